"""When the server asks a candidate for a photo: pure functions, no clock of their own.

The moments are derived from a secret (the site's receipt key) and the ticket, so a phone
cannot predict them and a restarted server finds the same ones without storing them.
They fall between `first_after` seconds after the paper was opened and `last_before`
seconds before its planned end (duration without extra time: a prompt never lands in time
that the candidate may not get)."""
from __future__ import annotations

import hashlib
import hmac

LOGIN_SLOT = 0


def moments(secret: bytes, ticket: str, opened_at: float, duration_s: float, count: int,
            first_after_s: float, last_before_s: float) -> list[float]:
    """The prompt times of slots 1..count, in order (slot i is moments[i - 1])."""
    if count <= 0:
        return []
    start = opened_at + max(0.0, first_after_s)
    span = max(0.0, duration_s - max(0.0, first_after_s) - max(0.0, last_before_s))
    out = []
    for i in range(count):
        # one stratum per prompt, a random point inside it: spread, never bunched at one end
        h = hmac.new(secret, f"capture|{ticket}|{i}".encode(), hashlib.sha256).digest()
        frac = int.from_bytes(h[:8], "big") / 2**64
        out.append(start + span * (i + frac) / count)
    return out


def due_slot(times: list[float], done: set[int], now: float, grace_s: float) -> tuple[int, float] | None:
    """The prompt the phone must show now: the earliest slot whose moment has come, that has
    no record yet, and whose grace has not run out. (slot, moment) or None."""
    for i, t in enumerate(times, start=1):
        if i in done:
            continue
        if t <= now < t + grace_s:
            return i, t
    return None


def missed_slots(times: list[float], done: set[int], now: float, grace_s: float,
                 until: float | None = None) -> list[tuple[int, float]]:
    """Slots whose grace ran out with no record. `until`: the attempt was sealed then, and
    prompts after it were never due."""
    return [(i, t) for i, t in enumerate(times, start=1)
            if i not in done and t + grace_s <= now and (until is None or t < until)]
