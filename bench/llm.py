"""Written answers from the local LLM reader, side by side in one run: ours with the evidence prompt,
ours with whole chunks (same rules), and llama-index's own `CitationQueryEngine` (its default
templates, compact mode, streaming), all on the same Qwen2.5-Coder-1.5B GGUF served by llama.cpp,
the same questions and the same retrieved passages. Time to first token and total answer time
(after retrieval), prompt tokens sent and evaluated (the rest came from the server's prefix cache),
p50/p95, and answer correctness. Each system has its own server process, so each keeps its own
prefix cache as it would in production; systems are interleaved question by question.
Run: `.venv/bin/python -m bench.llm [--questions 12] [--threads 0]` (after `make models-llm`).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import CORPUS, RESULTS, WORK, plot_bars, ratio, save, settings_for, summary, table
from eval.dataset import Question, load_questions
from eval.metrics import missing_groups
from rag.events import DeltaEvent, DoneEvent, RetrievalEvent
from rag.llm_server import LlamaServer, ServerSpec, machine_threads, resolve_model
from rag.text import fold

OURS, CHUNKS, THEIRS = "ours (evidence)", "ours (whole chunks)", "CitationQueryEngine"
SYSTEMS = (OURS, CHUNKS, THEIRS)
WARM_UP = "Qui a rejoint Anthropic ?"  # asked once per system, untimed: its fixed prompt gets cached
# How CitationQueryEngine's answers say the sources do not answer (its template asks it "to indicate
# that"); ours say our refusal sentence.
THEIR_REFUSAL = re.compile(
    r"none of the (provided )?sources|sources? (do|does|did) not|not (provided|mentioned|specified|"
    r"available) in the|no (information|mention)|cannot (find|determine|answer|provide)|unable to|"
    r"i'm sorry|aucune (des )?sources?|ne (mentionne|precise|fournit|donne|contient)nt? pas|"
    r"pas d'information|je ne (peux|trouve) pas"
)


def their_refusal(text: str) -> bool:
    """Whether a CitationQueryEngine answer says the sources do not answer (its own words for it)."""
    return bool(THEIR_REFUSAL.search(fold(text)))


ROWS = WORK / "llm-rows.jsonl"
TARGETS = {"ttft_p50_ratio": 0.35, "total_p50_ratio": 0.5}


def bench_collection() -> str:
    """A collection per embedding model (the configured one), so a change of model rebuilds nothing."""
    from rag.settings import Settings

    return f"llm-bench-{Settings(_env_file=None).embed_model}"[:63]  # type: ignore[call-arg]


def picked(limit: int) -> list[Question]:
    """`limit` questions of the TEST part spread evenly over it (every kind keeps its share)."""
    questions = load_questions(split="test")
    return [questions[round(i * len(questions) / limit)] for i in range(min(limit, len(questions)))]


class ServerLog:
    """The prompt tokens a llama.cpp server evaluated for its last request, read from its log."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, 0

    def last_request(self) -> tuple[int | None, int | None]:
        """(tokens sent, tokens evaluated) of the requests since the previous call."""
        text = self.path.read_text(encoding="utf-8", errors="replace")[self.seen :]
        self.seen += len(text)
        hit = re.findall(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens", text)
        evaluated = [int(n) for n in re.findall(r"prompt eval time =.*?/\s*(\d+) tokens", text)]
        if hit:
            cached, rest = map(int, hit[-1])
            return cached + rest, rest
        return (evaluated[-1], evaluated[-1]) if evaluated else (None, None)


def correct(question: Question, text: str, refused: bool) -> bool:
    if not question.answerable:
        return refused
    return not refused and not missing_groups(text, question.must_include)


def ask_ours(engine: Any, question: str) -> dict[str, Any]:
    started = first = retrieved = time.perf_counter()
    answer = None
    for event in engine.ask_stream(question):
        if isinstance(event, RetrievalEvent):
            retrieved = time.perf_counter()
        elif isinstance(event, DeltaEvent) and first == started:
            first = time.perf_counter()
        elif isinstance(event, DoneEvent):
            answer = event.answer
    assert answer is not None
    done = time.perf_counter()
    return {
        "ttft_s": first - retrieved,
        "total_s": done - retrieved,
        "answer": answer.answer,
        "refused": answer.refused,
        "path": answer.path,
    }


def their_engine(base_url: str, model: str, passages: Callable[[], list[Any]], settings: Any) -> Any:
    """CitationQueryEngine with its defaults (templates, 512-token citation chunks, compact mode),
    streaming, reading the passages we retrieved."""
    from llama_index.core import get_response_synthesizer
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.core.query_engine.citation_query_engine import (
        CITATION_QA_TEMPLATE,
        CITATION_REFINE_TEMPLATE,
    )
    from llama_index.core.response_synthesizers import ResponseMode
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.llms.openai_like import OpenAILike

    class Given(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            return [
                NodeWithScore(node=TextNode(text=p.text, id_=p.id, metadata={"file": p.file}), score=p.score)
                for p in passages()
            ]

    llm = OpenAILike(
        model=model,
        api_base=base_url,
        api_key="no-key",
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        context_window=settings.llm_context_window,
        is_chat_model=True,
    )
    synthesizer = get_response_synthesizer(
        llm=llm,
        text_qa_template=CITATION_QA_TEMPLATE,
        refine_template=CITATION_REFINE_TEMPLATE,
        response_mode=ResponseMode.COMPACT,
        streaming=True,
    )
    return CitationQueryEngine(Given(), llm=llm, response_synthesizer=synthesizer)


def ask_theirs(engine: Any, question: str) -> dict[str, Any]:
    started = time.perf_counter()
    first, text = None, ""
    for token in engine.query(question).response_gen:
        if first is None and token:
            first = time.perf_counter()
        text += token
    done = time.perf_counter()
    refused = their_refusal(text)
    return {
        "ttft_s": (first or done) - started,
        "total_s": done - started,
        "answer": text,
        "refused": refused,
        "path": "citation_query_engine",
    }


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--questions", type=int, default=12, help="test questions, spread evenly")
    args.add_argument("--threads", type=int, default=0, help="threads per LLM server (0: the machine's)")
    args.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the last run's rows"
    )
    options = args.parse_args()
    if options.report_only:
        saved = [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines() if line]
        ids = list(dict.fromkeys(r["id"] for r in saved))
        report(
            saved,
            [q for q in load_questions(split="test") if q.id in ids],
            options.threads or machine_threads(),
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        )
        return
    from ingest.service import run_ingest
    from rag.compose import build_engine

    base_settings = settings_for(
        CORPUS, WORK / "llm-index", collection=bench_collection(), answerer="openai", llm_timeout_s=600.0
    )
    run_ingest(base_settings, progress=False)
    base = build_engine(base_settings.model_copy(update={"answerer": "extractive"}))
    model = base_settings.llm_local_model
    threads = options.threads or machine_threads()
    questions = picked(options.questions)
    rows: list[dict[str, Any]] = []
    ROWS.unlink(missing_ok=True)
    with ExitStack() as held:
        servers: dict[str, LlamaServer] = {}
        logs: dict[str, ServerLog] = {}
        askers: dict[str, Callable[[str], dict[str, Any]]] = {}
        for i, name in enumerate(SYSTEMS):
            log_file = WORK / f"llm-server-{i}.log"
            spec = ServerSpec(
                resolve_model(model),
                Path(model).name,
                base_settings.llm_context_window,
                threads,
                log_file=log_file,
                verbose=True,
            )
            servers[name] = held.enter_context(LlamaServer(spec))
            logs[name] = ServerLog(log_file)
        current: list[Any] = []
        for name in (OURS, CHUNKS):
            settings = base_settings.model_copy(
                update={
                    "llm_base_url": servers[name].base_url,
                    "llm_model": Path(model).name,
                    "llm_prompt": "evidence" if name == OURS else "passages",
                }
            )
            askers[name] = partial(ask_ours, build_engine(settings, embedder=base.embedder, store=base.store))
        theirs = their_engine(servers[THEIRS].base_url, Path(model).name, lambda: current, base_settings)
        askers[THEIRS] = partial(ask_theirs, theirs)
        current[:] = base.retrieve(WARM_UP)[0]
        for name in SYSTEMS:
            askers[name](WARM_UP)
            logs[name].last_request()
        for n, question in enumerate(questions):
            current[:] = base.retrieve(question.question)[0]  # the passages every system reads
            order = SYSTEMS[n % 3 :] + SYSTEMS[: n % 3]  # rotated: noise hits every system alike
            for name in order:
                row = {
                    "id": question.id,
                    "system": name,
                    "question": question.question,
                    "answerable": question.answerable,
                    **askers[name](question.question),
                }
                row["sent_tokens"], row["evaluated_tokens"] = logs[name].last_request()
                row["correct"] = correct(question, row["answer"], row["refused"])
                rows.append(row)
                with ROWS.open("a", encoding="utf-8") as out:  # a crash later keeps what was measured
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                print(
                    f"{question.id} {name:22} ttft {row['ttft_s']:6.1f}s total {row['total_s']:6.1f}s "
                    f"tokens {row['sent_tokens']}/{row['evaluated_tokens']} ok={row['correct']} "
                    f"{row['answer'][:90]!r}",
                    flush=True,
                )
    report(rows, questions, threads, Path(model).name)


def report(rows: list[dict[str, Any]], questions: list[Question], threads: int, model: str) -> None:
    import os

    by_id = {q.id: q for q in questions}
    for row in rows:  # the refusal rule may have been refined since the answers were measured
        if row["system"] == THEIRS:
            row["refused"] = their_refusal(row["answer"])
            row["correct"] = correct(by_id[row["id"]], row["answer"], row["refused"])
    per: dict[str, dict[str, Any]] = {}
    for name in SYSTEMS:
        mine = [r for r in rows if r["system"] == name]
        answerable = [r for r in mine if r["answerable"]]
        unanswerable = [r for r in mine if not r["answerable"]]
        sent = [r["sent_tokens"] for r in mine if r["sent_tokens"] is not None]
        evaluated = [r["evaluated_tokens"] for r in mine if r["evaluated_tokens"] is not None]
        per[name] = {
            "ttft_s": summary([r["ttft_s"] for r in mine]),
            "total_s": summary([r["total_s"] for r in mine]),
            "sent_tokens": summary(sent) if sent else None,
            "evaluated_tokens": summary(evaluated) if evaluated else None,
            "answerable_correct": round(sum(r["correct"] for r in answerable) / max(len(answerable), 1), 3),
            "false_refusals": round(sum(r["refused"] for r in answerable) / max(len(answerable), 1), 3),
            "unanswerable_refused": round(
                sum(r["correct"] for r in unanswerable) / max(len(unanswerable), 1), 3
            ),
        }
    ratios = {
        "ttft_p50_ratio": ratio(per[OURS]["ttft_s"]["p50"], per[THEIRS]["ttft_s"]["p50"]),
        "total_p50_ratio": ratio(per[OURS]["total_s"]["p50"], per[THEIRS]["total_s"]["p50"]),
        "ttft_p95_ratio": ratio(per[OURS]["ttft_s"]["p95"], per[THEIRS]["ttft_s"]["p95"]),
        "total_p95_ratio": ratio(per[OURS]["total_s"]["p95"], per[THEIRS]["total_s"]["p95"]),
    }
    lines = [
        [
            name,
            p["ttft_s"]["p50"],
            p["ttft_s"]["p95"],
            p["total_s"]["p50"],
            p["total_s"]["p95"],
            round((p["sent_tokens"] or {}).get("mean", 0)),
            round((p["evaluated_tokens"] or {}).get("mean", 0)),
            p["answerable_correct"],
            p["false_refusals"],
            p["unanswerable_refused"],
        ]
        for name, p in per.items()
    ]
    header = [
        "system",
        "TTFT p50 s",
        "TTFT p95 s",
        "total p50 s",
        "total p95 s",
        "prompt tokens sent",
        "tokens evaluated",
        "answerable correct",
        "false refusals",
        "unanswerable refused",
    ]
    checks = [
        [k, v, f"<= {TARGETS[k]}", "ok" if v <= TARGETS[k] else "MISSED"]
        for k, v in ratios.items()
        if k in TARGETS
    ]
    n_ans = sum(q.answerable for q in questions)
    text = (
        f"{len(questions)} test questions of fr_news.jsonl ({n_ans} answerable), {model}, "
        f"llama.cpp server (llama-cpp-python) with {threads} thread(s) per system, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n\n"
        + table(lines, header)
        + "\n\n"
        + table(checks, ["ratio (ours evidence / CitationQueryEngine)", "measured", "target", ""])
    )
    save(
        "llm", {"systems": per, "ratios": ratios, "targets": TARGETS, "threads": threads, "rows": rows}, text
    )
    plot_bars(
        RESULTS / "llm.png",
        "Local LLM answers (p50, seconds)",
        list(SYSTEMS),
        {
            "time to first token": [per[s]["ttft_s"]["p50"] for s in SYSTEMS],
            "total": [per[s]["total_s"]["p50"] for s in SYSTEMS],
        },
        "seconds",
    )


if __name__ == "__main__":
    main()
