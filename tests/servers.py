"""Real HTTP servers for tests: uvicorn on free 127.0.0.1 ports, in a thread or as a `rag serve` process."""

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
import uvicorn
from doubles import ScriptedGenerator

from api import create_app
from rag.answerer import Answerer
from rag.config import Settings
from rag.embedding import Embedder
from rag.service import Service, open_corpus, open_service

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 180
# What the tests decide for each process server; the rest (model cache, threads) comes from the environment.
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


def local_model_server(index_dir: Path, embedder: Embedder) -> ThreadServer:
    """A server over `index_dir` answering with the real local model, as `rag serve` does."""
    return ThreadServer(open_service(Settings(index_dir=index_dir, generator="local", api_key=None), embedder=embedder))


def scripted_app(index_dir: Path, embedder: Embedder) -> Iterator[tuple[str, ScriptedGenerator]]:
    """For a module fixture: a scripted server's url and generator, every scripted reply used at the end."""
    with scripted_server(index_dir, embedder) as server:
        generator = server.service.answerer.generator
        yield server.url, generator
    assert generator.pending == 0


def ask_verbatim(url: str, question: str) -> dict:
    """POST /ask, expecting 200; every snippet, and every copy of it, is checked verbatim at its offsets."""
    with httpx.Client(base_url=url, timeout=120) as http:
        response = http.post("/ask", json={"question": question})
        assert response.status_code == 200, response.text
        body = response.json()
        for citation in body["citations"]:
            for quoted in (citation, *citation["also_reported_by"]):
                text = http.get(f"/documents/{quoted['doc_id']}").json()["text"]
                assert text[quoted["start"] : quoted["end"]] == quoted["snippet"]
    return body


def scripted_server(index_dir: Path, embedder: Embedder) -> ThreadServer:
    """A server over `index_dir` whose generator replays what a test scripts (`server.service.answerer.generator`)."""
    settings = Settings(index_dir=index_dir, generator="extractive", api_key=None)
    corpus = open_corpus(settings, embedder=embedder)
    answerer = Answerer(corpus, ScriptedGenerator(), max_tokens=settings.max_answer_tokens)
    return ThreadServer(Service(settings, corpus, answerer))


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
