"""Real HTTP servers over a real seed index: uvicorn on free 127.0.0.1 ports, talked to with httpx.

Each server gets its own copy of the seed index, so documents posted in one never reach another
(nor the index other test modules read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from servers import ProcessServer, ThreadServer, copy_index, scripted_server

from rag.config import Settings
from rag.embedding import Embedder
from rag.service import open_service

API_KEY = "test-key-4f2a9c"


@pytest.fixture(scope="session")
def api_key() -> str:
    """The key the main and locked servers expect in `Authorization: Bearer <key>`."""
    return API_KEY


@pytest.fixture(scope="session")
def seed_copy(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A private copy of the seed index per server, so documents posted to one never reach another."""
    return lambda name: copy_index(seed_index_dir, tmp_path_factory.mktemp(name) / "index")


@pytest.fixture(scope="session")
def api_index_dir(seed_copy: Callable[[str], Path]) -> Path:
    """The index the main API server writes to (a copy of the seed index)."""
    return seed_copy("api-index")


def serve(settings: Settings, embedder: Embedder) -> ThreadServer:
    """A thread server for `settings`, reusing the session's e5 model instead of loading its own."""
    return ThreadServer(open_service(settings, embedder=embedder, missing_ok=True))


@pytest.fixture(scope="session")
def api_server(api_index_dir: Path, embedder: Embedder) -> Iterator[ThreadServer]:
    """The main server: extractive answers; an API key guards document changes but not questions; a body
    must arrive within 2 s."""
    settings = Settings(index_dir=api_index_dir, generator="extractive", api_key=API_KEY, api_key_for_ask=False,
                        request_body_timeout_s=2)
    with serve(settings, embedder) as server:
        yield server


@pytest.fixture
def client(api_server: ThreadServer) -> Iterator[httpx.Client]:
    """An HTTP client of the main server, without credentials."""
    with httpx.Client(base_url=api_server.url, timeout=120) as http:
        yield http


@pytest.fixture
def writer(api_server: ThreadServer) -> Iterator[httpx.Client]:
    """An HTTP client of the main server that sends the API key."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=api_server.url, timeout=120, headers=headers) as http:
        yield http


@pytest.fixture(scope="session")
def open_server(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    """`rag serve` with no API key and CORS for one origin, configured through the environment."""
    base = tmp_path_factory.mktemp("open-server")
    env = {
        "RAG_INDEX_DIR": str(copy_index(seed_index_dir, base / "index")),
        "RAG_GENERATOR": "extractive",
        "RAG_CORS_ORIGINS": '["http://allowed.example"]',
    }
    with ProcessServer(env, base / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def locked_server(
    seed_copy: Callable[[str], Path], embedder: Embedder
) -> Iterator[ThreadServer]:
    """A server whose questions and searches need the API key too."""
    index_dir = seed_copy("locked-index")
    settings = Settings(index_dir=index_dir, generator="extractive", api_key=API_KEY, api_key_for_ask=True)
    with serve(settings, embedder) as server:
        yield server


@pytest.fixture(scope="session")
def llm_server(
    seed_copy: Callable[[str], Path], embedder: Embedder
) -> Iterator[ThreadServer]:
    """A server answering with the real local generator (slow: started only for `llm` tests)."""
    index_dir = seed_copy("llm-index")
    with serve(Settings(index_dir=index_dir, generator="local", api_key=None), embedder) as server:
        yield server


@pytest.fixture(scope="session", name="scripted_server")
def scripted_api_server(
    seed_copy: Callable[[str], Path], embedder: Embedder
) -> Iterator[ThreadServer]:
    """A server whose generator replays what a test scripts (`server.service.answerer.generator`)."""
    with scripted_server(seed_copy("scripted-index"), embedder) as server:
        yield server
