"""Feedback turned into eval cases (the JSON Lines of `eval/datasets/fr_news.jsonl`, to review and
add to the dev set) and into statistics: counts by day, share of thumbs-down, most-disliked questions."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.conversation import entities
from rag.history.records import FeedbackEntry
from rag.text import fold

SHORT_CORRECTION_WORDS = 6
"""A correction this short is what the answer must contain as a whole (« Jakub Pachocki »)."""

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?(?:\s?%)?")


def must_include(correction: str) -> list[list[str]]:
    """What a right answer must contain, from the user's correction: the whole of a short one; the
    names and numbers of a longer one (a sentence's first word is not taken for a name)."""
    text = " ".join(correction.split()).strip(' .!?;:«»"')
    if not text:
        return []
    if len(text.split()) <= SHORT_CORRECTION_WORDS:
        return [[text]]
    terms: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        found = [(m.start(), m.group()) for m in _NUMBER.finditer(sentence)]
        found += [
            (sentence.find(name), name)
            for name in entities(sentence)
            if " " in name or not sentence.startswith(name)
        ]
        terms += [term for _, term in sorted(found)]  # in the order of the text
    return [[term] for term in dict.fromkeys(terms)]


def _review(entry: FeedbackEntry, sources: Sequence[str], answerable: bool) -> str:
    """What a reviewer must still do before the case can join the dev set ("" when nothing)."""
    if answerable and not sources:
        return "name the article(s) that answer this question"
    if entry.feedback.rating == "down" and answerable and not entry.feedback.correction:
        return "write what the right answer must contain (must_include)"
    return ""


def eval_case(entry: FeedbackEntry) -> dict[str, Any]:
    """One eval case (the fields of `eval.dataset.Question`, in the dev part) with a `feedback`
    object that tells its origin: what was answered, cited and said."""
    given, answer = entry.feedback, entry.answer
    cited = list(dict.fromkeys(c.file for c in answer.citations))
    if given.answerable is not None:
        answerable = given.answerable
    elif given.rating == "up":
        answerable = not answer.refused
    else:  # "wrong": a refusal was wrong to refuse; a wrong answer still had an answer to find
        answerable = True
    sources = list(given.sources) or (cited if answerable and not answer.refused else [])
    case: dict[str, Any] = {
        "id": f"fb-{given.turn_id[:12]}",
        "split": "dev",
        "question": answer.standalone_question or entry.question,
        "answerable": answerable,
        "sources": sources if answerable else [],
        "must_include": must_include(given.correction) if answerable else [],
        "reference": given.correction or (answer.answer if given.rating == "up" else ""),
        "category": "feedback",
        "feedback": {
            "rating": given.rating,
            "asked": entry.question,
            "answer": answer.answer,
            "refused": answer.refused,
            "cited": cited,
            "comment": given.comment,
            "correction": given.correction,
            "at": given.created_at.isoformat() if given.created_at else None,
            "conversation": entry.conversation_id,
            "turn": given.turn_id,
            "review": _review(entry, sources, answerable),
        },
    }
    return case


def export_cases(entries: Iterable[FeedbackEntry], *, with_up: bool = True) -> list[dict[str, Any]]:
    """The eval cases of the thumbs-down, then (marked `"rating": "up"`) the thumbs-up if asked."""
    chosen = [e for e in entries if with_up or e.feedback.rating == "down"]
    chosen.sort(key=lambda e: e.feedback.rating != "down")  # stable: oldest first within each
    return [eval_case(e) for e in chosen]


@dataclass(frozen=True)
class Disliked:
    question: str
    down: int
    up: int


@dataclass(frozen=True)
class FeedbackStats:
    """Counts by day (UTC), the share of thumbs-down, and the questions disliked most often."""

    up: int
    down: int
    by_day: list[tuple[str, int, int]]  # (YYYY-MM-DD, up, down)
    most_disliked: list[Disliked]

    @property
    def down_share(self) -> float:
        total = self.up + self.down
        return self.down / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "down": self.down,
            "down_share": round(self.down_share, 4),
            "by_day": [{"day": d, "up": u, "down": n} for d, u, n in self.by_day],
            "most_disliked": [vars(d) for d in self.most_disliked],
        }


def feedback_stats(entries: Iterable[FeedbackEntry], *, top: int = 10) -> FeedbackStats:
    """Statistics over feedback; questions are grouped by their folded text (case, accents, spaces)."""
    days: dict[str, Counter[str]] = defaultdict(Counter)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    shown: dict[str, str] = {}
    for entry in entries:
        rating = entry.feedback.rating
        day = entry.feedback.created_at.date().isoformat() if entry.feedback.created_at else "?"
        days[day][rating] += 1
        question = searched_question(entry)
        key = " ".join(fold(question).split())
        shown.setdefault(key, question)
        votes[key][rating] += 1
    disliked = sorted(
        (Disliked(shown[k], v["down"], v["up"]) for k, v in votes.items() if v["down"]),
        key=lambda d: (-d.down, d.up, d.question),
    )
    return FeedbackStats(
        up=sum(c["up"] for c in days.values()),
        down=sum(c["down"] for c in days.values()),
        by_day=[(d, days[d]["up"], days[d]["down"]) for d in sorted(days)],
        most_disliked=disliked[:top],
    )


def searched_question(entry: FeedbackEntry) -> str:
    """The question a feedback is about, standalone (a follow-up's searched question)."""
    return entry.answer.standalone_question or entry.question


def format_stats(stats: FeedbackStats) -> str:
    """The statistics as `rag feedback stats` prints them."""
    total = stats.up + stats.down
    lines = [f"feedback: {total} ({stats.up} 👍, {stats.down} 👎, {stats.down_share:.0%} thumbs-down)"]
    if stats.by_day:
        lines += ["", "day          👍    👎"]
        lines += [f"{day}  {up:>4}  {down:>4}" for day, up, down in stats.by_day]
    if stats.most_disliked:
        lines += ["", "most disliked:"]
        lines += [f"{d.down:>4} 👎 {d.up:>3} 👍  {d.question}" for d in stats.most_disliked]
    return "\n".join(lines)
