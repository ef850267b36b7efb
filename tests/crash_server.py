"""Serve the API over INDEX_DIR on PORT and SIGKILL this process at a chosen point of the first write.

Usage: python tests/crash_server.py INDEX_DIR PORT POINT  (POINT: see crash_writer.arm; tests/test_crash.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn  # noqa: E402
from conftest import KeywordEmbedder  # noqa: E402
from crash_writer import KEYWORDS, arm  # noqa: E402

from api import create_app  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.service import open_service  # noqa: E402


def main() -> None:
    index_dir, port, point = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    embedder = KeywordEmbedder(KEYWORDS)
    service = open_service(Settings(index_dir=index_dir, generator="extractive", api_key=None), embedder=embedder)
    arm(point, embedder)  # armed once the index is loaded: the first write is the one killed
    uvicorn.run(create_app(service=service), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
