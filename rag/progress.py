"""How far an ingest has gone (files read, chunks embedded, rate, time left), as it reports itself to
a progress bar or to the chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["reading", "embedding", "done"]


@dataclass(frozen=True)
class IngestProgress:
    """One report of a running ingest: files are read first, then their new chunks embedded."""

    stage: Stage
    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int
    elapsed_s: float
    embed_elapsed_s: float = 0.0  # time spent embedding so far, for the rate

    @property
    def rate(self) -> float | None:
        """Chunks embedded per second, once some are."""
        return self.chunks_done / self.embed_elapsed_s if self.chunks_done and self.embed_elapsed_s else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left for the embedding, at the rate so far."""
        rate = self.rate
        return (self.chunks_total - self.chunks_done) / rate if rate else None

    def describe(self) -> str:
        """One line in French, for the chat."""
        if self.stage == "reading":
            return f"Lecture des fichiers : {self.files_done}/{self.files_total}"
        if self.stage == "done":
            return (
                f"Terminé : {self.files_total} fichier(s), {self.chunks_done} passage(s) indexé(s) "
                f"en {self.elapsed_s:.0f} s"
            )
        line = f"Indexation : {self.chunks_done}/{self.chunks_total} passages"
        if self.rate:
            line += f", {self.rate:.0f} passages/s"
        if self.eta_s is not None:
            line += f", encore ~{self.eta_s:.0f} s"
        return line
