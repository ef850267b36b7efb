"""Prometheus metrics of one app, in its own registry (two apps in one process never mix counts)."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.answer_types import Answer

UNMATCHED = "<unmatched>"  # one label for every unknown path, so scanners cannot blow up the series
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class ApiMetrics:
    """Request counts and latencies per route template, answers by language, refusals by reason."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("endpoint", "method", "status")
        self.requests = Counter(
            "rag_http_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "Time from request to the end of the response (whole stream for SSE).",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "rag_answers", "Answers given, refusals included.", ("language",), registry=self.registry
        )
        self.refusals = Counter(
            "rag_refusals", "Answers that declined, by reason.", ("abstain_reason",), registry=self.registry
        )
        self.admitted = Gauge(
            "rag_answers_admitted", "Answers being written by the model or waiting for it.", registry=self.registry
        )
        self.generating = Gauge(
            "rag_streams_generating", "Streamed answers whose generation is still running.", registry=self.registry
        )

    def record_answer(self, answer: Answer) -> None:
        """Count one answer (and its refusal reason when it declined)."""
        self.answers.labels(answer.language).inc()
        if answer.abstained:
            self.refusals.labels(answer.abstain_reason or "unknown").inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Plain ASGI middleware (it must not buffer SSE): times each HTTP request to its last byte."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app raises before answering, ServerErrorMiddleware answers 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or UNMATCHED
            labels = (endpoint, scope["method"], str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
