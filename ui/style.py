"""Styles and browser scripts of the chat's HTML panels. They travel with the components themselves
(`css_template`, `js_on_load`), so the chat looks right however it is mounted."""

from __future__ import annotations

_SUBDUED = "var(--body-text-color-subdued)"
# No semibold titles: the semibold face that gradio bundles draws a capital A too small (« OpenAI »).

CONVERSATION_CSS = f"""
.conversation {{ display: flex; flex-direction: column; gap: 1.1rem; padding: .25rem .25rem .75rem; }}
.welcome {{ color: {_SUBDUED}; margin: .5rem 0; }}
.turn {{ display: flex; flex-direction: column; gap: .5rem; }}
.msg {{ border-radius: 12px; padding: .7rem 1rem; line-height: 1.55; font-size: 1rem; }}
.msg.user {{ align-self: flex-end; max-width: 80%; background: var(--color-accent-soft); }}
.msg.bot {{
  align-self: stretch; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary);
}}
.searched, .status-note {{ font-size: .8rem; font-style: italic; color: {_SUBDUED}; margin: 0 0 .35rem; }}
.pending {{ color: {_SUBDUED}; margin: 0; }}
.cursor {{ color: var(--color-accent); margin-left: .1rem; }}
.marker {{
  font-size: .78em; font-weight: 700; vertical-align: super; line-height: 0;
  color: var(--color-accent); padding: 0 .1em;
}}
.marker[data-n] {{ cursor: pointer; }}
.marker[data-n]:hover {{ text-decoration: underline; }}
.notice {{ border-radius: 8px; padding: .6rem .8rem; }}
.notice span {{ font-size: .85rem; color: {_SUBDUED}; }}
.notice.refusal {{ padding: 0; }}
.notice.error {{ background: #fff6e5; border: 1px solid #f0c36d; color: #5c3b00; }}
.sources {{ margin-top: .8rem; padding-top: .5rem; border-top: 1px solid var(--border-color-primary); }}
.sources-label {{
  font-size: .72rem; text-transform: uppercase; letter-spacing: .06em; color: {_SUBDUED};
  margin: 0 0 .35rem;
}}
.sources ol {{ list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: .55rem; }}
.sources li {{ margin: 0; }}
button.source {{
  font: inherit; color: inherit; text-align: left; background: none; border: none; padding: 0;
  cursor: pointer;
}}
button.source .title {{ font-size: .94rem; }}
button.source:hover .title {{ text-decoration: underline; }}
.num {{ color: var(--color-accent); font-weight: 700; }}
.file {{ font-family: var(--font-mono); font-size: .74rem; color: {_SUBDUED}; margin-left: .3rem; }}
.answer.draft {{ color: {_SUBDUED}; }}
/* An unsupported sentence reads as such without colour too: dotted underline and a word. */
.unsupported {{
  background: #fdecea; color: #6b1a1a; border-radius: 3px; padding: 0 .15em;
  text-decoration: underline dotted #c0392b; text-underline-offset: 3px;
}}
.verdict {{
  font-size: .68rem; text-transform: uppercase; letter-spacing: .04em; font-weight: 700;
  background: #c0392b; color: #fff; border-radius: 4px; padding: .05em .35em; margin-left: .35em;
  vertical-align: .12em; text-decoration: none; display: inline-block;
}}
.unsupported-note {{ font-size: .8rem; color: #8a2a1f; margin: .35rem 0 0; }}
.evidence {{ margin-top: .6rem; }}
.evidence ol {{ list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: .5rem; }}
.evidence .title {{ font-size: .9rem; }}
.evidence blockquote {{
  margin: .15rem 0 0 0 !important; padding: 0 0 0 .6rem; border-left: 3px solid var(--border-color-primary);
  font-size: .83rem; color: {_SUBDUED}; white-space: pre-wrap;
  display: -webkit-box; -webkit-line-clamp: 5; -webkit-box-orient: vertical; overflow: hidden;
}}
.sources blockquote {{
  margin: .2rem 0 0 1.7rem !important; /* gradio's prose margin is !important too */
  padding: 0 0 0 .6rem; border-left: 3px solid var(--color-accent-soft); font-size: .85rem;
  color: {_SUBDUED};
}}
"""

ARTICLE_CSS = f"""
.article-hint {{ color: {_SUBDUED}; margin: .5rem 0; }}
.source-view {{ padding: .25rem .25rem .75rem; }}
.source-head {{ font-size: 1.12rem; line-height: 1.35; margin: 0; }}
.num {{ color: var(--color-accent); }}
.file {{ font-family: var(--font-mono); font-size: .74rem; color: {_SUBDUED}; margin: .2rem 0 .8rem; }}
.article-text {{ white-space: pre-wrap; line-height: 1.65; font-size: .93rem; }}
mark {{ background: #ffe38a; color: #1d1d1d; padding: .05em .15em; border-radius: 3px; }}
"""

# A click on a source or on a [n] marker asks the server for that source's article.
CONVERSATION_JS = """
const open = (event) => {
  const target = event.target.closest('[data-n]');
  if (!target || !element.contains(target)) return false;
  trigger('open_source', {turn: Number(target.dataset.turn), n: Number(target.dataset.n)});
  return true;
};
element.addEventListener('click', open);
element.addEventListener('keydown', (event) => {
  if ((event.key === 'Enter' || event.key === ' ') && open(event)) event.preventDefault();
});
"""

# Bring the highlighted passage into view whenever another article is shown.
ARTICLE_JS = """
watch('value', () => {
  const mark = element.querySelector('mark');
  if (mark) mark.scrollIntoView({block: 'nearest', behavior: 'smooth'});
});
"""
