"""Load test: N concurrent users against a real `rag serve` on loopback while documents come and go.

    .venv/bin/python bench/load.py [--users 20] [--seconds 300] [--index-dir index] [--url URL --pid PID]

Each user sends requests back to back: 70 % `POST /search`, 20 % `POST /ask`, 10 % `GET /documents`,
with the gold questions as queries. Beside them a writer adds a document every `--write-every`
seconds and deletes the one before. By default the script starts `rag serve` itself (extractive
answers, over a copy of `--index-dir`, on a free port) so it can read the server's memory in
/proc/PID; `--url` and `--pid` point it at a server already running instead.

It prints requests, errors and latency percentiles per endpoint, the server's RSS every 30 s (after
`--warmup` seconds of the same load), and what it checked: every listing holds the seed
documents and every document written and not yet deleted (no read sees a half-written index), every
hit comes from a document the index held, and no posted document is lost. It exits 1 if any of that
fails or any request errored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MIX: dict[str, float] = {"POST /search": 0.7, "POST /ask": 0.2, "GET /documents": 0.1}
STARTUP_S = 300
MEMORY_EVERY_S = 30
ARTICLE = (
    "La ville de Port-Évian-{n} a inauguré un tramway de {km} kilomètres, annonce la mairie. "
    "Le tramway numéro {n} a coûté {cost} millions d'euros, financés par la région et l'État.\n\n"
    "Il transporte jusqu'à {riders} voyageurs par jour entre la gare et le port."
)


@dataclass
class Tally:
    """What the run saw: latencies and errors per endpoint, and every consistency problem."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    problems: list[str] = field(default_factory=list)
    memory: list[tuple[float, float, int]] = field(default_factory=list)  # (second, RSS MiB, writes so far)

    def record(self, endpoint: str, started: float, ok: bool) -> None:
        self.latencies[endpoint].append((time.perf_counter() - started) * 1000)
        if not ok:
            self.errors[endpoint] += 1


@dataclass
class Corpus:
    """What the index must hold: the seeds, what the writer added and has not deleted, all ever seen."""

    seeds: set[str]
    live: set[str] = field(default_factory=set)
    known: set[str] = field(default_factory=set)


async def user(number: int, http: httpx.AsyncClient, questions: list[str], corpus: Corpus, tally: Tally,
               deadline: float) -> None:
    """One user: requests back to back in the mix, until the deadline."""
    chooser = random.Random(number)
    while time.perf_counter() < deadline:
        endpoint = chooser.choices(list(MIX), list(MIX.values()))[0]
        question = chooser.choice(questions)
        started = time.perf_counter()
        try:
            if endpoint == "POST /search":
                response = await http.post("/search", json={"query": question, "k": 5})
                ok = response.status_code == 200
                if ok:
                    strays = {hit["doc_id"] for hit in response.json()["hits"]} - corpus.known
                    tally.problems += [f"a hit from {doc_id}, never in the index" for doc_id in strays]
            elif endpoint == "POST /ask":
                response = await http.post("/ask", json={"question": question})
                ok = response.status_code == 200
            else:
                # The writer adds an id to `live` after its 201 and drops it before its DELETE: one live
                # both before and after this read was in the index the whole time, so it must be listed.
                live_before = set(corpus.live)
                response = await http.get("/documents")
                ok = response.status_code == 200
                if ok:
                    expected = corpus.seeds | (live_before & corpus.live)
                    missing = expected - {item["doc_id"] for item in response.json()}
                    tally.problems += [f"a listing without {doc_id}" for doc_id in sorted(missing)]
        except httpx.HTTPError as error:
            ok = False
            tally.problems.append(f"{endpoint}: {type(error).__name__}")
        tally.record(endpoint, started, ok)


async def writer(http: httpx.AsyncClient, corpus: Corpus, tally: Tally, deadline: float, every: float) -> None:
    """Adds a document every `every` seconds and deletes the previous one, checking each is readable."""
    number = 0
    while time.perf_counter() < deadline:
        number += 1
        doc_id = f"load-{number}"
        text = ARTICLE.format(n=number, km=3 + number % 9, cost=40 + number, riders=1000 + 37 * number)
        corpus.known.add(doc_id)
        started = time.perf_counter()
        try:
            response = await http.post("/documents", json={"doc_id": doc_id, "text": text})
            tally.record("POST /documents", started, response.status_code == 201)
            if response.status_code == 201:
                corpus.live.add(doc_id)
                stored = await http.get(f"/documents/{doc_id}")
                if stored.status_code != 200 or stored.json()["text"] != text:
                    tally.problems.append(f"{doc_id} written but not readable as written")
            previous = f"load-{number - 1}"
            if previous in corpus.live:
                started = time.perf_counter()
                corpus.live.discard(previous)
                response = await http.delete(f"/documents/{previous}")
                tally.record("DELETE /documents/{id}", started, response.status_code == 200)
        except httpx.HTTPError as error:
            tally.problems.append(f"writer: {type(error).__name__}")
        await asyncio.sleep(every)


async def sample_memory(pid: int, tally: Tally, deadline: float, every: float) -> None:
    """The server's RSS every `every` seconds, to tell a leak (a steady climb) from pools filling up."""
    started = time.perf_counter()
    while True:
        writes = len(tally.latencies.get("POST /documents", []))
        tally.memory.append((time.perf_counter() - started, rss_mib(pid), writes))
        if time.perf_counter() >= deadline:
            return
        await asyncio.sleep(min(every, max(deadline - time.perf_counter(), 0)))


async def run(url: str, users: int, seconds: float, every: float, questions: list[str],
              pid: int | None = None) -> tuple[Tally, Corpus]:
    limits = httpx.Limits(max_connections=users + 2, max_keepalive_connections=users + 2)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        listing = (await http.get("/documents")).json()
        corpus = Corpus(seeds={item["doc_id"] for item in listing})
        corpus.known |= corpus.seeds
        tally = Tally()
        deadline = time.perf_counter() + seconds
        sampler = [sample_memory(pid, tally, deadline, MEMORY_EVERY_S)] if pid else []
        await asyncio.gather(writer(http, corpus, tally, deadline, every), *sampler,
                             *(user(n, http, questions, corpus, tally, deadline) for n in range(users)))
        final = {item["doc_id"] for item in (await http.get("/documents")).json()}
        lost = (corpus.seeds | corpus.live) - final
        tally.problems += [f"{doc_id} lost" for doc_id in sorted(lost)]
        for doc_id in corpus.live:  # leave the index as it was
            await http.delete(f"/documents/{doc_id}")
    return tally, corpus


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@contextmanager
def server(index_dir: Path, generator: str) -> Iterator[tuple[str, int]]:
    """`rag serve` over a copy of `index_dir` on a free loopback port, until the block ends."""
    with tempfile.TemporaryDirectory(prefix="rag-load-") as scratch:
        copy = Path(scratch) / "index"
        shutil.copytree(index_dir, copy, symlinks=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "RAG_INDEX_DIR": str(copy), "RAG_GENERATOR": generator, "HF_HUB_OFFLINE": "1"}
        env.pop("RAG_API_KEY", None)
        log = open(Path(scratch) / "server.log", "wb")  # noqa: SIM115 (closed below, after the process)
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(url, process)
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"rag serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"rag serve did not answer in {STARTUP_S} s")


def report(tally: Tally, seconds: float, users: int) -> str:
    lines = [f"{users} users for {seconds:.0f} s", "",
             "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for endpoint in [*MIX, "POST /documents", "DELETE /documents/{id}"]:
        times = np.array(tally.latencies.get(endpoint, []))
        if not len(times):
            continue
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        lines.append(f"| `{endpoint}` | {len(times)} | {tally.errors.get(endpoint, 0)} | {len(times) / seconds:.1f} "
                     f"| {p50:.0f} | {p95:.0f} | {p99:.0f} |")
    if tally.memory:
        lines += ["", "| second | server RSS MiB | change | documents written |", "|---|---|---|---|"]
        first = tally.memory[0][1]
        lines += [f"| {second:.0f} | {rss:.0f} | {rss - first:+.0f} | {writes} |"
                  for second, rss, writes in tally.memory]
    lines += ["", f"consistency problems: {len(tally.problems)}"] + [f"  {problem}" for problem in tally.problems[:20]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--write-every", type=float, default=3.0, help="seconds between document writes")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of the same load before measuring")
    parser.add_argument("--index-dir", type=Path, default=Path(os.environ.get("RAG_INDEX_DIR", ROOT / "index")))
    parser.add_argument("--generator", default="extractive", help="RAG_GENERATOR of the server it starts")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--pid", type=int, help="that server's process id, for its memory")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").open(encoding="utf-8")]

    def measure(url: str, pid: int | None) -> int:
        if args.warmup:  # the first requests grow torch's and the allocator's pools: not a leak
            asyncio.run(run(url, args.users, args.warmup, args.write_every, questions))
        tally, _ = asyncio.run(run(url, args.users, args.seconds, args.write_every, questions, pid))
        print(report(tally, args.seconds, args.users))
        return 1 if tally.problems or any(tally.errors.values()) else 0

    if args.url:
        return measure(args.url, args.pid)
    with server(args.index_dir, args.generator) as (url, pid):
        return measure(url, pid)


if __name__ == "__main__":
    sys.exit(main())
