"""Write the PDF fixtures with LibreOffice: each article as a Word file (python-docx) exported to
PDF by `soffice --headless`, and a scanned page (an image of text, no text layer).

    apt-get install -y libreoffice-writer-nogui && .venv/bin/python tests/data/formats/make_pdfs.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from docx import Document  # noqa: E402
from docx.shared import Inches  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.formats import PDFS, articles, write_docx  # noqa: E402


def export(docx: Path, out: Path) -> None:
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(out), str(docx)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def scanned_page(work: Path) -> Path:
    """A Word file holding only a picture of a page of text, as a scanner makes."""
    article = articles()[3]
    lines = [wrapped for line in article.body[:4] for wrapped in [*textwrap.wrap(line, 80), ""]]
    figure = plt.figure(figsize=(8.27, 11.69), dpi=100)
    figure.text(0.08, 0.95, "\n".join(lines), va="top", family="DejaVu Serif", fontsize=9)
    image = work / "scan.png"
    figure.savefig(image)
    plt.close(figure)
    document = Document()
    document.add_picture(str(image), width=Inches(6.3))
    path = work / "scanned.docx"
    document.save(str(path))
    return path


def main() -> None:
    PDFS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for article in articles():
            docx = work / f"{article.stem}.docx"
            write_docx(article, docx)
            export(docx, PDFS)
        export(scanned_page(work), PDFS)
    for pdf in sorted(PDFS.glob("*.pdf")):
        print(pdf.relative_to(PDFS.parents[3]), pdf.stat().st_size)


if __name__ == "__main__":
    main()
