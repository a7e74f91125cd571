"""When a simulated phone's next answer is due (bench/phones.py `answering`).

`open` (the default): `interval` after the previous answer was *due*. A candidate's reading
time does not depend on how fast the server acked the last answer.

`from-ack`: `interval` after the previous answer's ack came back: the simulator's schedule
until 2026-11-30, kept to reproduce old figures. It phase-locks the phones: a stall holds
every phone that answered in it and releases them at one instant, so they answer together
one interval later, and the bunches only grow (tests/test_bench_schedule.py;
docs/benchmarks.md, "The steady tail was the simulator's").
"""
from __future__ import annotations

MODES = ("open", "from-ack")


def next_due(due: float, acked_at: float, interval: float, mode: str = "open") -> float:
    if mode == "from-ack":
        return acked_at + interval
    if mode == "open":
        return due + interval
    raise ValueError(f"unknown schedule {mode!r}; one of {MODES}")
