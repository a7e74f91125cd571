"""Slows down guessing of the 6 ID digits: per ticket and per client address.

After max_failures failures a key is locked for lockout_s, doubling with each further
failure (capped), so a script trying 10^6 combinations gets nowhere while a flustered
candidate who mistypes twice is not held up at all.
"""
from __future__ import annotations

import time

MAX_LOCKOUT_S = 15 * 60


class LoginLimiter:
    def __init__(self, max_failures: int, lockout_s: float, clock=time.monotonic):
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.clock = clock
        self._fails: dict[str, tuple[int, float]] = {}

    def retry_after(self, *keys: str) -> float:
        """Seconds until any of keys may try again (0 = now)."""
        now = self.clock()
        wait = 0.0
        for k in keys:
            n, until = self._fails.get(k, (0, 0.0))
            wait = max(wait, until - now)
        return max(0.0, wait)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for k in keys:
            n, _ = self._fails.get(k, (0, 0.0))
            n += 1
            until = 0.0
            if n >= self.max_failures:
                until = now + min(MAX_LOCKOUT_S, self.lockout_s * 2 ** (n - self.max_failures))
            self._fails[k] = (n, until)
        if len(self._fails) > 100_000:  # bound memory under a flood of addresses
            self._fails.clear()

    def succeeded(self, *keys: str) -> None:
        for k in keys:
            self._fails.pop(k, None)
