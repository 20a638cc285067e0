"""How a Redis-backed component behaves when Redis is away, in one place.

Every Redis user here is on the request path and optional to correctness (cache, idempotency
registry, rate limiter): a failure is counted, Redis is then left alone for ``rest_seconds`` (so a
hung Redis costs one timeout per second, not one per request; calls in that time count as
failures too), and a warning is logged at most once per ``warning_interval_seconds``, saying how
many calls went without Redis since the last one, on the component's own logger.
"""

from __future__ import annotations

import logging
import threading
import time


class RedisFailures:
    def __init__(
        self,
        component: str,
        consequence: str,
        *,
        logger: logging.Logger,
        rest_seconds: float = 1.0,
        warning_interval_seconds: float = 60.0,
    ) -> None:
        self.component = component
        self._log = logger
        self.consequence = consequence
        self.rest_seconds = rest_seconds
        self.warning_interval_seconds = warning_interval_seconds
        self.count = 0
        """Calls that could not use Redis (errors, and calls skipped while resting)."""
        self._lock = threading.Lock()
        self._rest_until = 0.0
        self._last_warning: float | None = None
        self._unreported = 0

    def resting(self) -> bool:
        """True, and counted, while Redis is left alone after a failure."""
        with self._lock:
            if time.monotonic() >= self._rest_until:
                return False
            self.count += 1
            self._unreported += 1
            return True

    def failed(self, operation: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self.count += 1
            self._unreported += 1
            self._rest_until = now + self.rest_seconds
            if self._last_warning is not None and now - self._last_warning < self.warning_interval_seconds:
                return
            self._last_warning = now
            unreported, self._unreported = self._unreported, 0
            total = self.count
        self._log.warning(
            "%s: Redis unavailable (%s failed: %s: %s); %s (%d call(s) without Redis since the "
            "last warning, %d in all)",
            self.component,
            operation,
            type(exc).__name__,
            exc,
            self.consequence,
            unreported,
            total,
        )
