"""A local sentence-transformers model exported once to ONNX and cached on disk.

Export goes through sentence-transformers' own ONNX backend (Optimum's exporter, which needs torch);
it runs offline from the model's files, once per model and variant, and the result is kept so later
processes load the ONNX file directly. Several processes may export at once: each writes its own
staging folder and the first to finish wins the rename.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

# fp32 and O2 (fused attention and layer norms) give PyTorch's vectors; qint8 is measured in
# bench/encoder.py but not offered: its vectors depend on what they are batched with, and its product-qa
# figures moved by more than the 0.005 a variant may cost.
OnnxVariant = Literal["fp32", "O2", "qint8"]
SERVED_VARIANTS: tuple[OnnxVariant, ...] = ("fp32", "O2")
ONNX_VARIANTS: tuple[OnnxVariant, ...] = ("fp32", "O2", "qint8")
# The file each variant is saved as, under the model folder's `onnx/` (sentence-transformers' names).
ONNX_FILES: dict[OnnxVariant, str] = {
    "fp32": "onnx/model.onnx",
    "O2": "onnx/model_O2.onnx",
    "qint8": "onnx/model_quint8_avx2.onnx",  # avx2 runs on every x86-64 CPU of the last decade
}


def exported_model(source: str, label: str, cache_root: Path, variant: OnnxVariant) -> Path:
    """The folder holding the model at `source` exported as `variant` (exported now if not there yet)."""
    target = cache_root / f"{label}-{_fingerprint(source)}-{variant}"
    if (target / ONNX_FILES[variant]).is_file():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = cache_root / f".staging-{uuid.uuid4().hex}"
    started = time.perf_counter()
    log.info("exporting the embedding model to ONNX (%s), once, into %s", variant, target)
    try:
        _export(source, staging, variant)
        try:
            staging.rename(target)
        except OSError:  # another process finished first; its export is the same
            if not (target / ONNX_FILES[variant]).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("ONNX export done in %.1f s", time.perf_counter() - started)
    return target


def _export(source: str, out: Path, variant: OnnxVariant) -> None:
    from sentence_transformers import (
        SentenceTransformer,
        export_dynamic_quantized_onnx_model,
        export_optimized_onnx_model,
    )

    SentenceTransformer(source, device="cpu", backend="onnx").save_pretrained(str(out))
    if variant == "fp32":
        return
    exported = SentenceTransformer(str(out), device="cpu", backend="onnx")
    if variant == "O2":
        export_optimized_onnx_model(exported, "O2", str(out))
    else:
        export_dynamic_quantized_onnx_model(exported, "avx2", str(out))


def _fingerprint(source: str) -> str:
    """Changes when the model's weights change (a new fine-tune saved over an old folder)."""
    parts = [str(Path(source).resolve())]
    for weights in sorted(Path(source).glob("*.safetensors")) + sorted(Path(source).glob("*.bin")):
        stat = weights.stat()
        parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
