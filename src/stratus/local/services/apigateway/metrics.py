"""Request counts and latency percentiles per REST API, for ``stratus stats``."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any


class ApiMetrics:
    def __init__(self, window: int = 20_000) -> None:
        self.requests = 0
        self.statuses: Counter[str] = Counter()
        self._latencies: deque[float] = deque(maxlen=window)  # the most recent requests, in ms

    def record(self, status: int, ms: float) -> None:
        self.requests += 1
        self.statuses[f"{status // 100}xx"] += 1
        self._latencies.append(ms)

    def snapshot(self) -> dict[str, Any]:
        lat = sorted(self._latencies)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 3) if lat else None
        return {"requests": self.requests, "statuses": dict(sorted(self.statuses.items())),
                "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99), "window": len(lat)}}
