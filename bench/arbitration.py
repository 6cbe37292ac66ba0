"""Calibration of the arbitration between the local LLM and the extractive evidence, on the DEV part
of fr_news.jsonl only: each question is answered once by the LLM (its raw text cached in
bench/out/arbitration-cache.jsonl, keyed by the exact prompt, so a rerun after a change of rules or
verification asks nothing), then every (strong, floor) setting is replayed on the same texts.
Writes bench/results/arbitration.{json,md}.
Run: `.venv/bin/python -m bench.arbitration [--limit 30] [--split dev]` (after `make models-llm`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from typing import Any

from bench.common import CORPUS, WORK, save, settings_for, table
from bench.llm import bench_collection
from eval.dataset import Question, load_questions
from eval.metrics import missing_groups
from rag.answering.arbiter import arbitrate, declined
from rag.answering.base import Draft
from rag.answering.generative import GenerativeAnswerer
from rag.answering.prompts import answer_messages
from rag.citations import compose
from rag.types import Passage

CACHE = WORK / "arbitration-cache.jsonl"
STRONG = (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)  # answerability from which evidence overrides a refusal
FLOOR = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3)  # answerability under which an LLM answer is refused


def spread(questions: list[Question], limit: int) -> list[Question]:
    """`limit` questions evenly spread over the set (every kind keeps its share)."""
    if limit >= len(questions):
        return questions
    return [questions[round(i * len(questions) / limit)] for i in range(limit)]


def outcome(question: Question, draft: Draft) -> str:
    """correct / wrong / refused for an answerable question; refused / answered for the others."""
    if not question.answerable:
        return "refused" if draft.refused else "answered"
    if draft.refused:
        return "refused"
    return "correct" if not missing_groups(compose(draft)[0], question.must_include) else "wrong"


def _cache() -> dict[str, dict[str, Any]]:
    """Cached LLM answers by prompt key, and by question id (the latest) for `--offline` replays."""
    if not CACHE.is_file():
        return {}
    found: dict[str, dict[str, Any]] = {}
    for line in CACHE.read_text(encoding="utf-8").splitlines():
        if line:
            row = json.loads(line)
            found[row["key"]] = found[f"id:{row['id']}"] = row
    return found


def collect(
    answerer: GenerativeAnswerer, engine: Any, questions: list[Question], *, offline: bool = False
) -> list[dict[str, Any]]:
    """One LLM answer per question (from the cache when its prompt was asked before). `offline`:
    never ask, replay the latest cached answer of each question on the sources it was given (the
    extractive ranking may have changed since)."""
    from llama_index.core.llms import ChatMessage

    cached, rows = _cache(), []
    for question in questions:
        passages, evidence, _ = engine.retrieve(question.question)
        extractive = answerer.fallback.answer(question.question, passages, evidence)
        sources = answerer.sources(question.question, passages, evidence)
        messages = answer_messages(question.question, sources)
        key = hashlib.sha256(json.dumps(messages, ensure_ascii=False).encode()).hexdigest()
        started = time.perf_counter()
        if key not in cached and offline:
            if f"id:{question.id}" not in cached:
                continue
            key = f"id:{question.id}"
            sources = [Passage(**p) for p in cached[key].get("sources", [])] or sources
        elif key not in cached:
            chat = [ChatMessage(role=role, content=content) for role, content in messages]
            text = str(answerer.llm.chat(chat).message.content or "")
            cached[key] = {
                "key": key,
                "id": question.id,
                "text": text,
                "sources": [p.to_dict() for p in sources],
            }
            with CACHE.open("a", encoding="utf-8") as out:
                out.write(json.dumps(cached[key], ensure_ascii=False) + "\n")
        seconds = time.perf_counter() - started
        text = cached[key]["text"]
        generated, with_llm = answerer.verified(
            question.question, passages, text, sources, extractive, evidence
        )
        rows.append(
            {
                "question": question,
                "extractive": extractive,
                "generated": generated,
                "with_llm": with_llm,
                "llm_text": text,
                "seconds": round(seconds, 1),
            }
        )
        print(
            f"{question.id} {seconds:5.1f}s answerability {extractive.evidence:.3f} {text[:100]!r}",
            flush=True,
        )
    return rows


def replay(rows: list[dict[str, Any]], strong: float, floor: float) -> dict[str, float]:
    counts: dict[str, int] = {}
    for row in rows:
        q: Question = row["question"]
        final = arbitrate(
            row["generated"], row["extractive"], strong=strong, floor=floor, with_llm=row["with_llm"]
        )
        key = f"{'answerable' if q.answerable else 'unanswerable'}_{outcome(q, final)}"
        counts[key] = counts.get(key, 0) + 1
    answerable = sum(r["question"].answerable for r in rows) or 1
    unanswerable = (len(rows) - sum(r["question"].answerable for r in rows)) or 1
    return {
        "correct": round(counts.get("answerable_correct", 0) / answerable, 3),
        "false_refusal": round(counts.get("answerable_refused", 0) / answerable, 3),
        "unanswerable_refused": round(counts.get("unanswerable_refused", 0) / unanswerable, 3),
    }


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--limit", type=int, default=30, help="questions asked (spread evenly)")
    args.add_argument("--split", default="dev", choices=("dev", "test"), help="part (tune on dev only)")
    args.add_argument("--threads", type=int, default=0, help="LLM threads (0: the machine's)")
    args.add_argument("--ids", default="", help="only these question ids, comma-separated")
    args.add_argument("--offline", action="store_true", help="replay cached answers only; start no LLM")
    options = args.parse_args()
    from ingest.service import run_ingest
    from rag.compose import build_answerer, build_engine
    from rag.llm_server import local_llm

    settings = settings_for(
        CORPUS,
        WORK / "llm-index",
        collection=bench_collection(),
        answerer="local",
        llm_timeout_s=600.0,
        llm_threads=options.threads,
    )
    run_ingest(settings, progress=False)
    questions = spread(load_questions(split=options.split), options.limit)
    if options.ids:
        wanted = options.ids.split(",")
        questions = [q for q in load_questions(split=options.split) if q.id in wanted]
    if options.offline:  # an endpoint that is never called
        settings = settings.model_copy(
            update={"answerer": "openai", "llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "cached"}
        )
    with local_llm(settings) as local:
        engine = build_engine(local)
        answerer = build_answerer(local)
        assert isinstance(answerer, GenerativeAnswerer)
        rows = collect(answerer, engine, questions, offline=options.offline)
    grid = {(strong, floor): replay(rows, strong, floor) for strong in STRONG for floor in FLOOR}
    header = [
        "override refusal from",
        "refuse answers under",
        "answerable correct",
        "false refusals",
        "unanswerable refused",
    ]
    lines = [
        [
            f"{s:.2f}" if s <= 1 else "never",
            f"{f:.2f}",
            g["correct"],
            g["false_refusal"],
            g["unanswerable_refused"],
        ]
        for (s, f), g in grid.items()
    ]
    alone = {
        "extractive alone": [outcome(r["question"], r["extractive"]) for r in rows],
        "llm alone (verified)": [outcome(r["question"], r["generated"]) for r in rows],
    }
    n_answerable = sum(r["question"].answerable for r in rows)
    text = (
        f"Arbitration on {len(rows)} {options.split} questions ({n_answerable} answerable), one local "
        "LLM answer each, replayed per setting:\n\n" + table(lines, header)
    )
    for name, outcomes in alone.items():
        text += f"\n\n{name}: " + ", ".join(f"{k} {outcomes.count(k)}" for k in sorted(set(outcomes)))
    save(
        f"arbitration-{options.split}",
        {
            "grid": [{"strong": s, "floor": f, **g} for (s, f), g in grid.items()],
            "rows": [
                {
                    "id": r["question"].id,
                    "answerable": r["question"].answerable,
                    "seconds": r["seconds"],
                    "answerability": round(r["extractive"].evidence, 4),
                    "with_llm": r["with_llm"],
                    "extractive_refused": r["extractive"].refused,
                    "llm_text": r["llm_text"],
                    "llm_declined": declined(r["generated"]),
                    "key_claim": r["generated"].sentences[0].verdict if r["generated"].sentences else None,
                }
                for r in rows
            ],
        },
        text,
    )


if __name__ == "__main__":
    main()
