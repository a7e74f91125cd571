"""The exam's timing rules as pure functions of plain numbers (epoch seconds).

DOMAIN.md: timing starts when the candidate opens the paper; no entry later than
late_entry after the sitting starts; no submission earlier than earliest_submit after
opening; at the deadline the server submits by itself. Durations come from the sitting
row (which comes from the bundle or config), never from constants here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class SittingTimes:
    status: str                 # planned | started | paused | ended
    started_at: float | None
    paused_at: float | None
    paused_total_s: float
    duration_s: int
    late_entry_s: int
    earliest_submit_s: int

    @classmethod
    def of(cls, row: Mapping) -> "SittingTimes":
        """The times of a sittings row (the database's, or the service's mirror of it)."""
        return cls(row["status"], row["started_at"], row["paused_at"], row["paused_total_s"],
                   row["duration_s"], row["late_entry_s"], row["earliest_submit_s"])


def late_entry_until(s: SittingTimes) -> float | None:
    """Last moment a candidate may enter (shown on the phone and the console). Pauses extend it."""
    if s.started_at is None:
        return None
    return s.started_at + s.late_entry_s + s.paused_total_s


def too_late(s: SittingTimes, now: float, admitted_late: bool = False) -> bool:
    """THE late-entry rule (开考10分钟后禁止迟到考生进入考场), decided here and nowhere else:
    True once the sitting has started and `now` is past its late-entry limit, unless an
    invigilator admitted the candidate late (准许迟到入场). Logging in, opening the paper,
    the 缺考 sweep and the 应到/实到/缺考 counts all ask this function."""
    until = late_entry_until(s)
    return until is not None and now > until and not admitted_late


def may_open(s: SittingTimes, now: float, admitted_late: bool = False) -> str | None:
    """None if the candidate may open the paper now, else the refusal code."""
    if s.status == "planned":
        return "not_started"
    if s.status == "ended":
        return "sitting_ended"
    if s.status == "paused":
        return "paused"
    if too_late(s, now, admitted_late):
        return "late_entry"
    return None


def deadline(opened_at: float, s: SittingTimes, extra_s: float = 0.0) -> float:
    """Personal deadline: opening time + paper length + extra time granted.

    Pauses that happen after opening are added by the pause/resume operation itself,
    which moves every open deadline forward; this is the deadline at opening time.
    """
    return opened_at + s.duration_s + extra_s


def earliest_submit(opened_at: float, s: SittingTimes, paused_since_open_s: float = 0.0) -> float:
    """First moment the candidate may hand in: earliest_submit after opening the paper, in
    exam time actually run, so a room pause after opening moves it like the deadline."""
    return opened_at + s.earliest_submit_s + paused_since_open_s


def may_submit(now: float, opened_at: float, s: SittingTimes, paused_since_open_s: float = 0.0) -> str | None:
    """None if a candidate who opened at `opened_at` may submit at `now`. While the room is
    paused the clock of the exam stands still, so nobody may submit either."""
    if s.status == "paused":
        return "paused"
    if now < earliest_submit(opened_at, s, paused_since_open_s):
        return "too_early"
    return None


def answer_refusal(status: str, now: float, deadline_at: float | None, sitting_status: str) -> str | None:
    """None if an answer received at `now` may be stored."""
    if status in ("submitted", "terminated"):
        return "submitted"
    if status != "answering" or deadline_at is None:
        return "not_answering"
    if sitting_status == "paused":
        return "paused"
    if now > deadline_at:
        return "time_up"
    return None


def newer(seq: int, stored_seq: int | None) -> bool:
    """An answer replaces the stored one only if its phone counter is higher."""
    return stored_seq is None or seq > stored_seq


def valid_choice(choice, option_keys) -> bool:
    return choice is None or (isinstance(choice, str) and choice in option_keys)
