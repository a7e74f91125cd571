"""The load simulator's answer schedule (bench/schedule.py).

The steady benchmark's p99 is only worth its target if the phones' arrivals stay as spread
out as real candidates' are: a phone's next answer must not move with the server's ack
(docs/benchmarks.md, "The steady tail was the simulator's").
"""
from __future__ import annotations

import pytest

from bench.schedule import next_due

INTERVAL = 2.0


def send_times(mode: str, ack_latencies: list[float], first: float = 0.37) -> list[float]:
    """One phone: when it sends each answer, given how long each ack takes. A phone behind its
    schedule sends as soon as its ack is back (bench/phones.py `answering`)."""
    sends, due, acked = [], first, 0.0
    for lat in ack_latencies:
        sent = max(due, acked)
        acked = sent + lat
        sends.append(sent)
        due = next_due(due, acked, INTERVAL, mode)
    return sends


def test_open_schedule_keeps_each_phone_on_its_phase():
    lats = [0.004, 0.300, 0.002, 0.030, 0.001, 0.150, 0.002]     # stalls of 300 and 150 ms
    sends = send_times("open", lats)
    assert sends == pytest.approx([0.37 + k * INTERVAL for k in range(len(lats))])


def test_open_schedule_sends_at_once_when_behind():
    sends = send_times("open", [2.5, 0.001, 0.001])                # an ack slower than the interval
    assert sends == pytest.approx([0.37, 0.37 + 2.5, 0.37 + 2 * INTERVAL])


def test_from_ack_schedule_drifts_with_every_ack():
    """The old schedule: each stall moves the phone's phase for good, so the phones a stall
    holds come back together on every later cycle."""
    lats = [0.004, 0.300, 0.002]
    sends = send_times("from-ack", lats)
    assert sends == pytest.approx([0.37, 0.37 + 0.004 + INTERVAL, 0.37 + 0.004 + 0.300 + 2 * INTERVAL])


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown schedule"):
        next_due(0.0, 0.1, INTERVAL, "sometimes")
