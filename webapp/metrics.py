"""Prometheus metrics of one app instance (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chatdoctor_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.request_seconds = Histogram(
            "chatdoctor_http_request_seconds",
            "HTTP time to response start",
            ["route"],
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "chatdoctor_generation_queue_length", "generations waiting for a worker", registry=self.registry
        )
        self.active = Gauge("chatdoctor_generations_active", "generations running", registry=self.registry)
        self.generations = Counter(
            "chatdoctor_generations",
            "finished generations by final status",
            ["status"],
            registry=self.registry,
        )
        self.ttft = Histogram(
            "chatdoctor_time_to_first_token_seconds",
            "time to first token",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.tokens_per_second = Histogram(
            "chatdoctor_tokens_per_second",
            "completion tokens per second",
            buckets=(1, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        self.completion_tokens = Counter(
            "chatdoctor_completion_tokens", "completion tokens generated", registry=self.registry
        )
