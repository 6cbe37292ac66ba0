"""Ask every question of eval/datasets/fr_news.jsonl of the corpus written in each format (PDF, DOCX,
HTML, Markdown, JSON Lines) and of the .txt corpus, and compare: same refusals, answers, cited
articles and quotes; citations exact over the stored text; no page boilerplate cited.

    .venv/bin/python tests/data/formats/compare_formats.py [--out table.md]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from eval.dataset import load_questions  # noqa: E402
from eval.metrics import missing_groups  # noqa: E402
from ingest.service import run_ingest  # noqa: E402
from rag.compose import build_engine  # noqa: E402
from rag.documents import DocumentTexts, documents_dir  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.settings import DEFAULT_EMBED_MODEL, Settings  # noqa: E402
from rag.types import Answer  # noqa: E402
from tests.formats import BOILERPLATE, write_format  # noqa: E402

FORMATS = ("pdf", "docx", "html", "md", "jsonl")


def answers(kind: str, work: Path, embedder: Embedder) -> tuple[list[Answer], dict[str, str], DocumentTexts]:
    corpus = work / kind / "corpus"
    ids = write_format(kind, corpus)
    settings = Settings(
        corpus_dir=corpus, index_dir=work / kind / "index", collection=f"cmp-{kind}", _env_file=None
    )  # type: ignore[call-arg]
    report = run_ingest(settings, embedder=embedder, progress=False)
    assert not report.skipped, report.skipped
    engine = build_engine(settings, embedder=embedder)
    back = {doc: txt for txt, doc in ids.items()}
    found = [engine.ask(q.question) for q in load_questions()]
    return found, back, DocumentTexts(documents_dir(settings.index_dir, settings.collection))


def row(kind: str, got: list[Answer], back: dict[str, str], texts: DocumentTexts, base: list[Answer]) -> str:
    questions = load_questions()
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    correct = sum(
        not got[i].refused and not missing_groups(got[i].answer, questions[i].must_include)
        for i in answerable
    )
    same_refusal = sum(a.refused == b.refused for a, b in zip(got, base, strict=True))
    same_answer = sum(a.answer == b.answer for a, b in zip(got, base, strict=True))
    same_docs = sum(
        [back.get(c.file) for c in a.citations] == [c.file for c in b.citations]
        for a, b in zip(got, base, strict=True)
    )
    same_quotes = sum(
        [c.quote for c in a.citations] == [c.quote for c in b.citations]
        for a, b in zip(got, base, strict=True)
    )
    citations = [c for a in got for c in a.citations]
    exact = sum(
        (doc := texts.get(c.file)) is not None and doc.text[c.char_start : c.char_end] == c.quote
        for c in citations
    )
    boiler = sum(any(s in c.quote or c.quote in s for s in BOILERPLATE) for c in citations)
    n = len(got)
    return (
        f"| {kind} | {correct}/{len(answerable)} | {same_refusal}/{n} | {same_answer}/{n} | "
        f"{same_docs}/{n} | {same_quotes}/{n} | {exact}/{len(citations)} | {boiler} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    embedder = Embedder(DEFAULT_EMBED_MODEL)
    lines = [
        "| format | answerable, all must_include found | same refusal as .txt | same answer text | "
        "same cited articles | same quotes | quotes exact in stored text | boilerplate cited |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        base, back, texts = answers("txt", Path(tmp), embedder)
        lines.append(row("txt", base, back, texts, base))
        for kind in FORMATS:
            got, back, texts = answers(kind, Path(tmp), embedder)
            lines.append(row(kind, got, back, texts, base))
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
