"""Prometheus metrics, summed over every worker process.

Each worker counts into its own files in a directory the supervisor makes (prometheus_client's
multiprocess mode); whichever worker answers ``GET /metrics`` reads them all, so a scrape sees
the service, not one worker. ``PROMETHEUS_MULTIPROC_DIR`` must be set before this module is
imported: the supervisor sets it before it starts any worker.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["Metrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self):
        self.decisions = Counter("licit_decisions", "Decisions returned (each one logged)",
                                 ["jurisdiction", "outcome"])
        self.decision_seconds = Histogram("licit_decision_seconds",
                                          "Time to decide and log one flow, seen by the worker",
                                          buckets=_LATENCY_BUCKETS)
        self.requests = Counter("licit_http_requests", "HTTP requests answered, by route and status",
                                ["route", "status"])
        self.log_write_failures = Counter("licit_log_write_failures",
                                          "Decisions refused because the log could not store them (503)")
        self.reloads = Counter("licit_rule_reloads", "Rule reloads, by result", ["result"])
        self.ruleset = Gauge("licit_ruleset_info", "Rule set in force per jurisdiction and worker "
                             "(1 in force; 0 replaced by a reload)", ["jurisdiction", "digest"],
                             multiprocess_mode="liveall")
        self._in_force: dict[str, str] = {}

    def rules_in_force(self, digests: dict[str, str]) -> None:
        for code, digest in self._in_force.items():
            if digests.get(code) != digest:
                self.ruleset.labels(code, digest).set(0)
        for code, digest in digests.items():
            self.ruleset.labels(code, digest).set(1)
        self._in_force = dict(digests)

    @staticmethod
    def exposition() -> bytes:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
