"""Run `rag eval` on the corpus written in each format (the question set's `sources` renamed to the
documents of that format), and print the summary metrics side by side with the .txt corpus.

    .venv/bin/python tests/data/formats/eval_formats.py [--out table.md] [--formats txt,pdf,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.formats import write_format  # noqa: E402

DATASET = ROOT / "eval" / "datasets" / "fr_news.jsonl"
METRICS = (
    "hit_at_k",
    "mrr",
    "answer_correct_rate",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "refusal_rate_unanswerable",
    "false_refusal_rate",
    "grounded_sentence_rate",
)


def run(kind: str, work: Path) -> dict[str, float | None]:
    corpus = work / kind / "corpus"
    ids = write_format(kind, corpus)
    dataset = work / kind / "questions.jsonl"
    with dataset.open("w", encoding="utf-8") as out:
        for line in DATASET.read_text("utf-8").splitlines():
            row = json.loads(line)
            row["sources"] = [ids[s] for s in row["sources"]]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(work / kind / "index"),
        "RAG_COLLECTION": f"eval-{kind}",
    }
    cli = [sys.executable, "-m", "cli.main"]
    subprocess.run([*cli, "ingest", "--no-progress"], env=env, check=True, cwd=work)
    out_dir = work / kind / "out"
    subprocess.run(
        [*cli, "eval", "--dataset", str(dataset), "--output", str(out_dir)],
        env=env,
        cwd=work,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    return dict(json.loads((out_dir / "report.json").read_text("utf-8"))["summary"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--formats", default="txt,pdf,docx,html,md,jsonl")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.formats.split(","):
            summary = run(kind, Path(tmp))
            shown = [
                f"{summary[m]:.3f}" if isinstance(summary.get(m), float) else str(summary.get(m))
                for m in METRICS
            ]
            rows.append(f"| {kind} | " + " | ".join(shown) + " |")
            print(rows[-1], flush=True)
    table = "\n".join([f"| format | {' | '.join(METRICS)} |", "|---" * (len(METRICS) + 1) + "|", *rows])
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
