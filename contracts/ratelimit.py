"""Slows down guessing of the 6 ID digits, without letting one phone lock out another
(the centre's token logins, sync/central/admin.py, lock out the same way).

Failures count against three keys:
- the client address (one phone trying many tickets or many digits);
- the pair (ticket, address): the candidate's own phone is never locked by someone else's
  tries, because a phone elsewhere in the hall has another address;
- the ticket alone, with a much higher threshold: a guesser spreading tries over many
  addresses still meets a limit. If that lock ever hits a real candidate, the invigilator
  lifts it from the console (解除锁定, audited).

After a key's threshold it is locked for lockout_s, doubling with each further failure
(capped), so a script trying 10^6 combinations gets nowhere while a flustered candidate
who mistypes twice is not held up at all.
"""
from __future__ import annotations

import time

MAX_LOCKOUT_S = 15 * 60
MAX_KEYS = 100_000  # bound memory under a flood of addresses


class LoginLimiter:
    def __init__(self, max_failures: int, lockout_s: float, clock=time.monotonic,
                 per_ticket_failures: int | None = None):
        self.max_failures = max_failures
        self.per_ticket_failures = per_ticket_failures or max_failures * 6
        self.lockout_s = lockout_s
        self.clock = clock
        self._fails: dict[str, tuple[int, float]] = {}
        self._pairs_of: dict[str, set[str]] = {}  # ticket -> its pair keys, for clear_ticket

    @staticmethod
    def address_key(addr: str) -> str:
        return "a:" + addr

    @staticmethod
    def ticket_key(ticket: str) -> str:
        return "t:" + ticket

    @staticmethod
    def pair_key(ticket: str, addr: str) -> str:
        return f"p:{ticket}|{addr}"

    def keys(self, ticket: str, addr: str) -> tuple[str, str, str]:
        return self.address_key(addr), self.pair_key(ticket, addr), self.ticket_key(ticket)

    def _threshold(self, key: str) -> int:
        return self.per_ticket_failures if key.startswith("t:") else self.max_failures

    def retry_after(self, *keys: str) -> float:
        """Seconds until every one of keys may try again (0 = now)."""
        now = self.clock()
        return max([0.0] + [self._fails.get(k, (0, 0.0))[1] - now for k in keys])

    def failed(self, *keys: str) -> bool:
        """Count a failure; True if any of the keys is now locked."""
        now = self.clock()
        if len(self._fails) > MAX_KEYS:
            self._fails.clear()
            self._pairs_of.clear()
        locked = False
        for k in keys:
            n, _ = self._fails.get(k, (0, 0.0))
            n += 1
            until = 0.0
            limit = self._threshold(k)
            if n >= limit:
                until = now + min(MAX_LOCKOUT_S, self.lockout_s * 2 ** (n - limit))
                locked = True
            self._fails[k] = (n, until)
            if k.startswith("p:"):
                self._pairs_of.setdefault(k[2:].split("|", 1)[0], set()).add(k)
        return locked

    def succeeded(self, *keys: str) -> None:
        for k in keys:
            self._fails.pop(k, None)

    def ticket_locked_for(self, ticket: str) -> float:
        """Seconds the ticket is locked for on any address (for the console)."""
        keys = [self.ticket_key(ticket), *self._pairs_of.get(ticket, ())]
        return self.retry_after(*keys)

    def clear_ticket(self, ticket: str) -> None:
        """解除锁定: forget every failure counted against this ticket, and against the
        addresses it was tried from (the candidate's own phone among them)."""
        self._fails.pop(self.ticket_key(ticket), None)
        for k in self._pairs_of.pop(ticket, ()):
            self._fails.pop(k, None)
            self._fails.pop(self.address_key(k.split("|", 1)[1]), None)
