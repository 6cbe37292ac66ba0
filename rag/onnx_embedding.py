"""A sentence-transformers model run by ONNX Runtime (RAG_EMBED_BACKEND=onnx or onnx-int8): exported
once from the installed model files (offline), checked against the torch model, cached on disk; at run
time no torch, only onnxruntime and the model's own fast tokenizer."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.embed_engines import Kind
from rag.errors import ConfigError

log = logging.getLogger(__name__)

OnnxKind = Literal["onnx", "onnx-int8"]
FORMAT = 1
"""Bumped when the exported files change shape: an older export is then made again."""
SAME_FUNCTION = 0.9999
"""The fp32 export must give the torch model's vectors (cosine at least this on every probe text),
else the export is refused: it would not be the same model."""
PROBE = [
    "Jan Leike a quitté OpenAI pour rejoindre Anthropic, où il dirige une équipe de recherche.",
    "La culture de la sécurité est passée au second plan derrière des produits brillants.",
    "John Schulman, cofondateur d'OpenAI, a annoncé son départ après neuf années.",
    "Le modèle peut désormais raisonner sur des images, du son et du texte en temps réel.",
    "L'entreprise a levé plusieurs milliards de dollars auprès de Microsoft.",
    "Les chercheurs s'inquiètent des risques posés par les systèmes d'intelligence artificielle.",
    "The board announced a new chief executive after a weekend of negotiations.",
    "Il pleuvra demain sur la Bretagne, avec des éclaircies en fin de journée.",
    "Pourquoi Leike est-il parti ?",
    "Qui a quitté OpenAI en 2024 ?",
]


def export_dir(cache_root: Path, model_name: str, kind: OnnxKind) -> Path:
    """Where the export of `model_name` for `kind` is cached (beside the index)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(model_name).name or model_name)
    return cache_root / f"{safe}-{kind}"


def _fingerprint(location: str) -> str:
    """Sizes and times of the model's files: a changed model folder is exported again."""
    files = sorted(p for p in Path(location).rglob("*") if p.is_file())
    return ";".join(f"{p.relative_to(location)}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in files)


def _current(target: Path, fingerprint: str) -> bool:
    try:
        recorded = json.loads((target / "export.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded.get("format") == FORMAT and recorded.get("fingerprint") == fingerprint)


def ensure_export(name: str, location: str, kind: OnnxKind, cache_root: Path) -> Path:
    """The cached export of the model at `location`, made now if missing or stale."""
    target = export_dir(cache_root, name, kind)
    fingerprint = _fingerprint(location)
    if _current(target, fingerprint):
        return target
    log.info("Exporting the embedding model %s for ONNX Runtime (%s), once, into %s", name, kind, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _export(location, kind, partial, fingerprint)
        if not _current(target, fingerprint):  # else another process finished first: keep its export
            shutil.rmtree(target, ignore_errors=True)
            try:
                partial.replace(target)
            except OSError:
                if not _current(target, fingerprint):
                    raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _export(location: str, kind: OnnxKind, out: Path, fingerprint: str) -> None:
    """Trace the whole sentence-transformers pipeline (transformer, pooling, dense layers) into one
    ONNX graph; with `onnx-int8`, quantise its matrix products' weights to int8 per channel."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(location, device="cpu").eval()

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            return self.model(features)["sentence_embedding"]

    sample = model.tokenizer(PROBE[:2], padding=True, return_tensors="pt")
    fp32 = out / "model-fp32.onnx"
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # the tracer's notes on shapes it fixes: the probe checks the result
            torch.onnx.export(
                Pipeline(),
                (sample["input_ids"], sample["attention_mask"]),
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
    except Exception as exc:  # the tracer fails on some architectures (EmbeddingGemma, for one)
        raise ConfigError(
            f"The model at {location} cannot be exported to ONNX ({exc.__class__.__name__}: {exc}): "
            "use RAG_EMBED_BACKEND=torch with it."
        ) from exc
    tokenizer = model.tokenizer
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    meta: dict[str, Any] = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "max_tokens": int(model.max_seq_length or tokenizer.model_max_length),
        "dimension": int(model.get_embedding_dimension() or 0),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token),
        "prompts": {k: model.prompts.get(k) or "" for k in ("query", "document")},
    }
    reference = model.encode(PROBE, normalize_embeddings=True, convert_to_numpy=True)
    agreement = float((OnnxRunner(out, fp32, meta).encode(PROBE, 8) * reference).sum(axis=1).min())
    if agreement < SAME_FUNCTION:
        raise ConfigError(
            f"The ONNX export of {location} does not reproduce the model (cosine {agreement:.5f} on the "
            "probe texts): use RAG_EMBED_BACKEND=torch."
        )
    model_file = fp32
    if kind == "onnx-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        model_file = out / "model-int8.onnx"
        quantize_dynamic(
            str(fp32),
            str(model_file),
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": 1},  # float, where shape inference leaves a type open
        )
        fp32.unlink()
        quantised = OnnxRunner(out, model_file, meta).encode(PROBE, 8)
        meta["probe_cosine_to_fp32_min"] = round(float((quantised * reference).sum(axis=1).min()), 5)
    meta["file"] = model_file.name
    (out / "export.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


class OnnxRunner:
    """One exported model in ONNX Runtime: texts in, L2-normalised float32 vectors out. Two sessions:
    batches use every core, short texts one (as the torch path: waits cost more than they save)."""

    def __init__(self, folder: Path, model_file: Path, meta: dict[str, Any]) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.meta = meta
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(meta["max_tokens"]))
        self.tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        self.sessions = {}
        for threads in (0, 1):  # 0: ONNX Runtime's default, one thread per core
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.sessions[threads] = ort.InferenceSession(
                str(model_file), options, providers=["CPUExecutionProvider"]
            )

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths pad little
        out = np.zeros((len(texts), int(self.meta["dimension"])), dtype=np.float32)
        session = self.sessions[1 if len(texts) <= 2 else 0]
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([b.ids for b in batch], dtype=np.int64)
            mask = np.array([b.attention_mask for b in batch], dtype=np.int64)
            vectors = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            out[rows] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out


class OnnxBackend:
    """The embedder's backend for an exported model (see `rag.embedding.Backend`)."""

    uses_torch = False

    def __init__(self, name: str, location: str, kind: OnnxKind, cache_root: Path) -> None:
        if not Path(location).is_dir():
            raise ConfigError(
                f"RAG_EMBED_BACKEND={kind} runs sentence-transformers models from their folder; "
                f"{name!r} is not one (use RAG_EMBED_BACKEND=torch)."
            )
        folder = ensure_export(name, location, kind, cache_root)
        meta = json.loads((folder / "export.json").read_text())
        self.runner = OnnxRunner(folder, folder / meta["file"], meta)
        self.prompts: dict[str, str] = meta["prompts"]
        self.max_tokens = int(meta["max_tokens"])
        self.dimension = int(meta["dimension"])
        from tokenizers import Tokenizer

        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))  # whole texts, unpadded
        self._counter.no_truncation()
        self._counter.no_padding()

    def encode(self, texts: list[str], kind: Kind, batch_size: int, progress: bool) -> np.ndarray:
        prompt = self.prompts[kind]
        return self.runner.encode([prompt + t for t in texts] if prompt else texts, batch_size)

    def count_tokens(self, text: str) -> list[int]:
        ids: list[int] = self._counter.encode(text, add_special_tokens=False).ids
        return ids
