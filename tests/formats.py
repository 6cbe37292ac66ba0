"""The five corpus articles written as real documents by real tools: DOCX by python-docx, saved news
pages (HTML with menus, cookie banner, « à lire aussi », comments, JSON-LD), Markdown with front
matter and headings, a JSON Lines dump; the PDFs are LibreOffice's (tests/data/formats/make_pdfs.py)."""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from docx import Document

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
PDFS = ROOT / "tests" / "data" / "formats" / "pdf"

HEADINGS = frozenset(
    {
        "Récapitulatif factuel",
        "Point de vue neutre",
        "Exemple",
        "Point de vue optimiste",
        "Point de vue pessimiste",
        "Réactions et changements chez OpenAI après les démissions",
    }
)
"""Lines of the .txt articles that are section headings (h2 on a page, ## in Markdown)."""

BOILERPLATE = (
    "Nous utilisons des cookies pour mesurer l’audience et personnaliser les publicités.",
    "Accepter et fermer",
    "À lire aussi : OpenAI perd un nouveau cofondateur, qui part chez Anthropic",
    "À lire aussi : Amazon investit 4 milliards de dollars de plus dans une start-up rivale",
    "Abonnez-vous à notre lettre d’information pour recevoir chaque matin l’essentiel de la tech.",
    "Encore un départ chez OpenAI : la sécurité passe vraiment après les produits, selon moi.",
    "Schulman est resté trois ans chez Anthropic avant de partir, c’est bien connu.",
    "Tous droits réservés. Reproduction interdite sans autorisation.",
)
"""Sentences of the pages around the articles: menus, banners, related links, comments. Some say
things the questions ask about (wrongly, for the comment on Schulman): none may ever be cited."""


@dataclass(frozen=True)
class Article:
    """A corpus article with the metadata a real document of it carries."""

    stem: str
    title: str
    date: str
    author: str
    source: str
    url: str
    body: tuple[str, ...]  # paragraphs, headings included


_META = {
    "000_f26d2272fd34496e": (
        "John Schulman quitte OpenAI pour Anthropic",
        "2024-08-06",
        "Claire Martin",
        "Le Journal de l’IA",
        "https://www.journal-ia.example/2024/08/06/schulman-anthropic",
    ),
    "001_693cd8350728ec63": (
        "OpenAI : Greg Brockman en congé, John Schulman et Peter Deng s’en vont",
        "2024-08-06",
        "Thomas Bernard",
        "Tech Hebdo",
        "https://www.techhebdo.example/articles/openai-brockman-schulman-deng",
    ),
    "002_32947e2b12942824": (
        "John Schulman quitte déjà Anthropic",
        "2025-02-07",
        "Claire Martin",
        "Le Journal de l’IA",
        "https://www.journal-ia.example/2025/02/07/schulman-quitte-anthropic",
    ),
    "003_45baa9305485c6a1": (
        "Jan Leike démissionne d’OpenAI",
        "2024-05-18",
        "Sophie Leroy",
        "Tech Hebdo",
        "https://www.techhebdo.example/articles/jan-leike-demission-openai",
    ),
    "004_d6bdbc85729e3bbc": (
        "",
        "2024-05-28",
        "Thomas Bernard",
        "Tech Hebdo",
        "https://www.techhebdo.example/articles/leike-rejoint-anthropic",
    ),
}


def articles() -> list[Article]:
    """The five articles; the last one's first line is its headline, kept as its title only."""
    found = []
    for stem, (title, date, author, source, url) in _META.items():
        lines = [line.strip() for line in (CORPUS / f"{stem}.txt").read_text("utf-8").splitlines()]
        lines = [line for line in lines if line]
        if not title:
            title, lines = lines[0], lines[1:]
        found.append(Article(stem, title, date, author, source, url, tuple(lines)))
    return found


def write_docx(article: Article, path: Path) -> None:
    document = Document()
    props = document.core_properties
    props.title, props.author = article.title, article.author
    props.created = datetime.fromisoformat(article.date)
    props.identifier, props.category = article.url, article.source
    document.add_heading(article.title, level=1)
    for line in article.body:
        if line in HEADINGS:
            document.add_heading(line, level=2)
        else:
            document.add_paragraph(line)
    document.save(str(path))


def write_markdown(article: Article, path: Path) -> None:
    front = "\n".join(
        f"{key}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in (
            ("title", article.title),
            ("date", article.date),
            ("author", article.author),
            ("source", article.source),
            ("url", article.url),
        )
    )
    body = "\n\n".join(f"## {line}" if line in HEADINGS else line for line in article.body)
    path.write_text(f"---\n{front}\n---\n\n# {article.title}\n\n{body}\n", encoding="utf-8")


def write_jsonl(items: list[Article], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for index, article in enumerate(items):
            out.write(
                json.dumps(
                    {
                        "id": article.stem,
                        "title": article.title,
                        "text": "\n".join(article.body),
                        "date": f"{article.date}T08:30:00Z",
                        "url": article.url,
                        "author": article.author,
                        "source": article.source,
                        "lang": "fr",
                        "tags": ["IA", "OpenAI"],
                        "rank": index,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )


def _paragraphs(article: Article) -> list[str]:
    out = []
    for index, line in enumerate(article.body):
        text = html.escape(line, quote=False)
        out.append(f"<h2>{text}</h2>" if line in HEADINGS else f"<p>{text}</p>")
        if index == 2:  # a « read also » box inside the article body, as news sites place them
            out.append(
                f'<aside class="related"><p><strong>{BOILERPLATE[2]}</strong></p>'
                f'<ul><li><a href="/x">{BOILERPLATE[3]}</a></li></ul></aside>'
            )
    return out


def html_page(article: Article) -> str:
    """A saved news page: the article among a site's menus, banners, related links and comments."""
    e = html.escape
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "datePublished": f"{article.date}T08:30:00+02:00",
            "author": {"@type": "Person", "name": article.author},
            "publisher": {"@type": "Organization", "name": article.source},
            "mainEntityOfPage": article.url,
            "isAccessibleForFree": True,
        },
        ensure_ascii=False,
    )
    body = "\n".join(_paragraphs(article))
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<title>{e(article.title)} | {e(article.source)}</title>
<link rel="canonical" href="{e(article.url)}">
<meta property="og:title" content="{e(article.title)}">
<meta property="og:site_name" content="{e(article.source)}">
<meta property="og:url" content="{e(article.url)}">
<meta property="og:type" content="article">
<meta name="author" content="{e(article.author)}">
<meta property="article:published_time" content="{article.date}T08:30:00+02:00">
<script type="application/ld+json">{ld}</script>
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>{BOILERPLATE[0]}</p><button>{BOILERPLATE[1]}</button></div>
<header class="site-header"><a class="logo" href="/">{e(article.source)}</a>
<nav class="main-nav"><ul><li><a href="/ia">Intelligence artificielle</a></li>
<li><a href="/startups">Start-up</a></li>
<li><a href="/economie">Économie</a></li><li><a href="/abonnement">S’abonner</a></li></ul></nav></header>
<main><article class="post">
<header><h1 class="entry-title">{e(article.title)}</h1>
<p class="byline">Par <a rel="author" href="/auteurs/x">{e(article.author)}</a> —
<time datetime="{article.date}T08:30:00+02:00">{article.date}</time></p></header>
<div class="entry-content">
{body}
</div>
<div class="share"><a href="#">Partager sur X</a> <a href="#">Partager sur LinkedIn</a></div>
</article>
<section class="newsletter"><p>{BOILERPLATE[4]}</p>
<form><input type="email"><button>OK</button></form></section>
<section id="comments" class="comments"><h3>3 commentaires</h3>
<div class="comment"><p class="comment-author">Jean-Marc</p><p>{BOILERPLATE[5]}</p></div>
<div class="comment"><p class="comment-author">Lucie</p><p>{BOILERPLATE[6]}</p></div></section>
</main>
<footer class="site-footer"><p>© 2025 {e(article.source)}. {BOILERPLATE[7]}</p>
<ul><li><a href="/mentions">Mentions légales</a></li><li><a href="/contact">Contact</a></li></ul></footer>
</body></html>
"""


def paywall_page(article: Article) -> str:
    """A page whose article is behind a paywall: the site's chrome, a teaser line and the wall."""
    page = html_page(article)
    start, end = page.index('<div class="entry-content">'), page.index('<div class="share">')
    wall = (
        '<div class="entry-content"><div class="paywall"><p>Cet article est réservé aux abonnés.</p>'
        '<p><a href="/abonnement">Je m’abonne pour 1 € le premier mois</a></p></div></div>\n'
    )
    return page[:start] + wall + page[end:]


def write_format(kind: str, target: Path) -> dict[str, str]:
    """Write the five articles in one format (`txt`: the corpus files themselves) into `target`;
    returns {txt name: document id}."""
    if kind == "txt":
        shutil.copytree(CORPUS, target)
        return {p.name: p.name for p in CORPUS.glob("*.txt")}
    target.mkdir(parents=True, exist_ok=True)
    items = articles()
    if kind == "jsonl":
        write_jsonl(items, target / "articles.jsonl")
        return {f"{a.stem}.txt": f"articles.jsonl#{i + 1}" for i, a in enumerate(items)}
    for article in items:
        path = target / f"{article.stem}.{kind}"
        if kind == "pdf":
            path.write_bytes((PDFS / path.name).read_bytes())
        elif kind == "docx":
            write_docx(article, path)
        elif kind == "md":
            write_markdown(article, path)
        elif kind == "html":
            path.write_text(html_page(article), encoding="utf-8")
        else:
            raise ValueError(kind)
    return {f"{a.stem}.txt": f"{a.stem}.{kind}" for a in items}
