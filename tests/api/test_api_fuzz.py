"""Schemathesis against the real app's OpenAPI schema, over a real server, with and without an API key.

Every operation gets generated requests (valid and invalid); each response must not be a 5xx and must
match what the schema documents: its status, its content type and its body. A fixed seed and a
bounded number of examples keep it deterministic and short; `make fuzz` raises the bound.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from servers import ThreadServer

from api.app import create_app
from rag.config import Settings
from rag.embedding import Embedder
from rag.service import open_service

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))  # per operation and phase; `make fuzz` sets more
SEED = int(os.environ.get("FUZZ_SEED", "15"))  # fixed: the same cases on every run
KEY = "fuzz-key-8c1e"


OPEN = Settings(generator="extractive", api_key=None)
KEYED = Settings(generator="extractive", api_key=KEY, api_key_for_ask=True)
# A request can match the schema and still be unusable: the 400 its schema documents (a question
# without a letter, a text empty after cleaning); an upload's file type is judged by its name (415).
USABLE_OR_EXPLAINED = ["2xx", "400", "401", "404"]


def fuzz_config() -> SchemathesisConfig:
    """Every check that applies to a stateless API, a fixed seed, no example database."""
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"positive_data_acceptance": {"expected-statuses": USABLE_OR_EXPLAINED}},
        "operations": [{
            "include-path": "/documents", "include-method": "POST",
            "checks": {"positive_data_acceptance": {"expected-statuses": [*USABLE_OR_EXPLAINED, "415"]}},
        }],
    })


def schema_of(settings: Settings):
    """The schema a server with `settings` serves at /openapi.json (building the app loads no model)."""
    return schemathesis.openapi.from_dict(create_app(settings).openapi(), config=fuzz_config())


@pytest.fixture(scope="module")
def open_fuzz_server(seed_copy: Callable[[str], Path], embedder: Embedder) -> Iterator[ThreadServer]:
    """No API key: every route is open, writes included (fuzzed documents land in a private index copy)."""
    settings = OPEN.model_copy(update={"index_dir": seed_copy("fuzz-open")})
    with ThreadServer(open_service(settings, embedder=embedder)) as server:
        yield server


@pytest.fixture(scope="module")
def keyed_fuzz_server(seed_copy: Callable[[str], Path], embedder: Embedder) -> Iterator[ThreadServer]:
    """RAG_API_KEY for everything (RAG_API_KEY_FOR_ASK): requests without the key are answered 401."""
    settings = KEYED.model_copy(update={"index_dir": seed_copy("fuzz-keyed")})
    with ThreadServer(open_service(settings, embedder=embedder)) as server:
        yield server


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[tuple[str, int]]]:
    """Cases sent per operation and status, printed at the end (`-s` shows it; `make fuzz` does)."""
    counts: Counter[tuple[str, int]] = Counter()
    yield counts
    by_operation: dict[str, list[str]] = {}
    for (operation, code), count in sorted(counts.items()):
        by_operation.setdefault(operation, []).append(f"{code}x{count}")
    print(f"\nschemathesis: {sum(counts.values())} cases, seed {SEED}, {EXAMPLES} examples per operation and phase")
    for operation, statuses in by_operation.items():
        print(f"  {operation}: {' '.join(statuses)}")


def call(case, tally: Counter[tuple[str, int]], base_url: str, **kwargs: object) -> None:
    """Send one generated case and run every configured check on its response."""
    response = case.call_and_validate(base_url=base_url, timeout=60, **kwargs)
    tally[(f"{case.method.upper()} {case.path}", response.status_code)] += 1


open_schema = schema_of(OPEN)
keyed_schema = schema_of(KEYED)


def test_the_fuzzed_schemas_are_the_ones_the_servers_serve(open_fuzz_server, keyed_fuzz_server) -> None:
    for server, settings in ((open_fuzz_server, OPEN), (keyed_fuzz_server, KEYED)):
        assert httpx.get(f"{server.url}/openapi.json").json() == create_app(settings).openapi()


@open_schema.parametrize()
def test_without_a_key_every_response_is_documented(case, open_fuzz_server: ThreadServer, tally) -> None:
    call(case, tally, open_fuzz_server.url)


@keyed_schema.parametrize()
def test_with_the_key_every_response_is_documented(case, keyed_fuzz_server: ThreadServer, tally) -> None:
    call(case, tally, keyed_fuzz_server.url, headers={"Authorization": f"Bearer {KEY}"})


@keyed_schema.parametrize()
def test_without_the_key_every_response_is_documented(case, keyed_fuzz_server: ThreadServer, tally) -> None:
    call(case, tally, keyed_fuzz_server.url)
