"""Export a sentence-transformers folder's encoder to ONNX, so serving needs no torch.

The graph takes `input_ids` and `attention_mask` (dynamic batch and sequence axes) and returns
the folder's own pooled `sentence_embedding`, so its pooling mode travels with it. It is traced
with eager attention, whose pattern ONNX Runtime's transformer optimizer fuses into one Attention
op per layer (passages embed about 1.4 times faster than unfused). Next to it,
`onnx/embedder.json` records what the sentence-transformers config said (prompts, length limit,
dimension) and the sizes of the folder's files, to notice weights changed after the export.
The export is accepted only once `rag.embedding.Embedder` reproduces sentence-transformers'
vectors on the verification sample; it is written in a scratch folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelUnavailableError

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

ONNX_DIR = "onnx"
ONNX_MODEL = "model.onnx"
ONNX_CONFIG = "embedder.json"
_OPSET = 17
PROVENANCE_FILE = "rag-provenance.json"  # written by provisioning after the export: not part of the model


def source_files(folder: Path) -> dict[str, int]:
    """Sizes of the model's own files (not onnx/, hidden entries, provenance): what an export is made from."""
    files = {}
    for path in sorted(folder.rglob("*")):
        top = path.relative_to(folder).parts[0]
        if path.is_file() and top != ONNX_DIR and not top.startswith(".") and path.name != PROVENANCE_FILE:
            files[path.relative_to(folder).as_posix()] = path.stat().st_size
    return files


def read_config(folder: Path, export: Path | None = None) -> dict[str, Any] | None:
    """The config of `export` (default `folder/onnx`) if it is a complete export of `folder` as it is now."""
    export = folder / ONNX_DIR if export is None else export
    try:
        config = json.loads((export / ONNX_CONFIG).read_text(encoding="utf-8"))
        complete = (export / ONNX_MODEL).stat().st_size == config["model_size"]
        return config if complete and config["source_files"] == source_files(folder) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def export_onnx(folder: Path, passages: list[str], queries: list[str], min_cosine: float) -> float:
    """Write `folder/onnx/` and return the min cosine of its vectors against sentence-transformers'.

    Raises ModelUnavailableError, leaving any previous export in place, when the folder cannot be
    loaded or exported, or when a vector drifts below `min_cosine`.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    folder = Path(folder)
    try:
        st = SentenceTransformer(
            str(folder), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
        )
    # Loaders raise many unrelated types (OSError, ValueError, safetensors errors...).
    except Exception as exc:
        raise ModelUnavailableError(f"cannot load {folder} as a sentence-transformers folder ({exc})") from exc
    tokenizer = st.tokenizer
    if not (folder / "tokenizer.json").is_file() or tokenizer is None or tokenizer.pad_token_id is None:
        raise ModelUnavailableError(f"{folder} has no fast tokenizer (tokenizer.json with a pad token) to serve with")
    st.eval()
    work = Path(tempfile.mkdtemp(prefix=".onnx.build-", dir=folder))
    try:
        # Two texts of different lengths, so the traced graph goes through padding and the mask.
        sample = tokenizer(["passage: un exemple", "passage: un exemple un peu plus long"], padding=True,
                           return_tensors="pt")  # fmt: skip
        # The tracer warns about shape checks it freezes; for an encoder they hold at every shape.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _encoder(st),
                (sample["input_ids"], sample["attention_mask"]),
                str(work / ONNX_MODEL),
                input_names=["input_ids", "attention_mask"],
                output_names=["sentence_embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "sentence_embedding": {0: "batch"},
                },
                opset_version=_OPSET,
                dynamo=False,  # the TorchScript exporter needs only `onnx`; torch.export would need onnxscript
            )
        encoder_config = getattr(st[0].auto_model, "config", None)
        heads, width = getattr(encoder_config, "num_attention_heads", 0), getattr(encoder_config, "hidden_size", 0)
        _fuse(work / ONNX_MODEL, heads, width)
        config = {
            "dimension": int(st.get_embedding_dimension() or 0),
            # None means the model declares no limit; 512 is the BERT-family default it most likely has.
            "max_seq_length": int(st.max_seq_length or 512),
            "prompts": {name: st.prompts[name] for name in ("query", "passage") if name in st.prompts},
            "pad_token_id": int(tokenizer.pad_token_id),
            "model_size": (work / ONNX_MODEL).stat().st_size,
            "source_files": source_files(folder),
        }
        (work / ONNX_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        worst = _verify(st, folder, work, passages, queries)
        if worst < min_cosine:
            raise ModelUnavailableError(f"ONNX export of {folder} drifts: min cosine {worst:.5f} < {min_cosine}")
        target = folder / ONNX_DIR
        if target.exists():
            os.replace(target, work / "previous")
        os.replace(work, target)  # `work` is a sibling of the target, so this is a rename
        shutil.rmtree(target / "previous", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return worst


def _fuse(model: Path, heads: int, width: int) -> None:
    """Rewrite `model` with ONNX Runtime's BERT fusions (Attention, SkipLayerNorm, BiasGelu), in place.

    opt_level=0 applies only those portable rewrites; ONNX Runtime's own graph optimizations,
    which depend on the machine, still run when a session opens. 0 heads or width: read from the graph.
    """
    from onnxruntime.transformers import optimizer

    fused = optimizer.optimize_model(str(model), model_type="bert", num_heads=heads, hidden_size=width, opt_level=0)
    fused.save_model_to_file(str(model))


def _verify(st: SentenceTransformer, folder: Path, export: Path, passages: list[str], queries: list[str]) -> float:
    """Min cosine between the serving path over `export` and sentence-transformers, batched and one by one."""
    from rag.embedding import Embedder

    embedder = Embedder(str(folder), export=export)
    cosines: list[float] = []
    for prompt, texts in (("passage", passages), ("query", queries)):
        name = prompt if prompt in st.prompts else None
        theirs = st.encode(texts, prompt_name=name, convert_to_numpy=True, normalize_embeddings=True)
        embed = embedder.embed_queries if prompt == "query" else embedder.embed_passages
        for ours in (embed(texts), np.concatenate([embed([text]) for text in texts])):
            cosines += np.sum(ours * theirs, axis=1).tolist()
    return min(cosines)


def _encoder(st: SentenceTransformer) -> torch.nn.Module:
    """The sentence-transformers modules as one module of two tensors, which is what ONNX export traces."""
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            for module in self.st:
                features = module(features)
            return features["sentence_embedding"]

    return Encoder()
