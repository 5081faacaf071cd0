"""API Gateway's throttling: a token bucket per API (and per route that declares its own)."""

from __future__ import annotations

import math
import threading

from ....clock import Clock
from ....graph import Throttle


class TokenBucket:
    def __init__(self, settings: Throttle, clock: Clock) -> None:
        self.rate, self.burst, self.clock = settings.rate, settings.burst, clock
        self.tokens = float(settings.burst)
        self.stamp = clock.now()
        self.throttled = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """None when the request may go; otherwise the whole seconds to wait (for Retry-After)."""
        with self._lock:
            now = self.clock.now()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            self.throttled += 1
            return max(1, math.ceil((1 - self.tokens) / self.rate))
