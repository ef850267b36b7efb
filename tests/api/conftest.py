"""Real HTTP servers over a real seed index: uvicorn on free 127.0.0.1 ports, talked to with httpx.

Each server gets its own copy of the seed index, so documents posted in one never reach another
(nor the index other test modules read).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from doubles import ScriptedGenerator

from api import create_app
from rag.answerer import Answerer
from rag.config import Settings
from rag.embedding import Embedder
from rag.service import Service, open_corpus, open_service

API_KEY = "test-key-4f2a9c"
ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 180
# What the tests decide for each server; the rest (model cache, threads) comes from the environment.
_SERVER_VARIABLES = {
    "RAG_INDEX_DIR", "RAG_GENERATOR", "RAG_API_KEY", "RAG_API_KEY_FOR_ASK", "RAG_CORS_ORIGINS", "RAG_HOST", "RAG_PORT",
    "RAG_ALLOWED_HOSTS",
}


def free_socket() -> socket.socket:
    """A bound, listening socket on a free port, handed to uvicorn (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def copy_index(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


class ThreadServer:
    """`create_app` under uvicorn in a background thread of this process, over an already built service."""

    def __init__(self, service: Service) -> None:
        self.settings = service.settings
        self.service = service
        self.socket = free_socket()
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        app = create_app(service=service)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the API server stopped during start-up (see the log above)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API server did not start in {STARTUP_TIMEOUT_S} s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


class ProcessServer:
    """`python -m api.cli serve` in a subprocess, configured only by RAG_* environment variables."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {name: value for name, value in os.environ.items() if name not in _SERVER_VARIABLES}
        self.env = {**inherited, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ProcessServer:
        command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"`rag serve` exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"`rag serve` did not answer in {STARTUP_TIMEOUT_S} s:\n{self.log.read_text()}")
            time.sleep(0.2)

    def __exit__(self, *exc_info: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def api_key() -> str:
    """The key the main and locked servers expect in `Authorization: Bearer <key>`."""
    return API_KEY


@pytest.fixture(scope="session")
def api_index_dir(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The index the main API server writes to (a copy of the seed index)."""
    return copy_index(seed_index_dir, tmp_path_factory.mktemp("api-index") / "index")


def serve(settings: Settings, embedder: Embedder) -> ThreadServer:
    """A thread server for `settings`, reusing the session's e5 model instead of loading its own."""
    return ThreadServer(open_service(settings, embedder=embedder, missing_ok=True))


@pytest.fixture(scope="session")
def api_server(api_index_dir: Path, embedder: Embedder) -> Iterator[ThreadServer]:
    """The main server: extractive answers; an API key guards document changes but not questions."""
    settings = Settings(index_dir=api_index_dir, generator="extractive", api_key=API_KEY, api_key_for_ask=False)
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
    seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[ThreadServer]:
    """A server whose questions and searches need the API key too."""
    index_dir = copy_index(seed_index_dir, tmp_path_factory.mktemp("locked-index") / "index")
    settings = Settings(index_dir=index_dir, generator="extractive", api_key=API_KEY, api_key_for_ask=True)
    with serve(settings, embedder) as server:
        yield server


@pytest.fixture(scope="session")
def llm_server(
    seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[ThreadServer]:
    """A server answering with the real local generator (slow: started only for `llm` tests)."""
    index_dir = copy_index(seed_index_dir, tmp_path_factory.mktemp("llm-index") / "index")
    with serve(Settings(index_dir=index_dir, generator="local", api_key=None), embedder) as server:
        yield server


@pytest.fixture(scope="session")
def scripted_server(
    seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[ThreadServer]:
    """A server whose generator replays what a test scripts (`server.service.answerer.generator`)."""
    index_dir = copy_index(seed_index_dir, tmp_path_factory.mktemp("scripted-index") / "index")
    settings = Settings(index_dir=index_dir, generator="extractive", api_key=None)
    corpus = open_corpus(settings, embedder=embedder)
    answerer = Answerer(corpus, ScriptedGenerator(), max_tokens=settings.max_answer_tokens)
    with ThreadServer(Service(settings, corpus, answerer)) as server:
        yield server
