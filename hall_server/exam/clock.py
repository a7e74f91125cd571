"""The exam's clock: wall time at an anchor, advanced by a clock that never steps.

A laptop's wall clock jumps: NTP corrects it the moment the laptop meets a network (to
sync results), a chief examiner "fixes" it by hand, a dead CMOS battery starts it in 2009.
A +1 h step under a running sitting would finalize every attempt as time_up; a backward
step would hand out time. So exam time is the wall time read once (the anchor) plus the
time elapsed since then on CLOCK_BOOTTIME, which never steps and, unlike CLOCK_MONOTONIC,
keeps counting while the laptop is suspended (a lid closed for 10 minutes is 10 minutes of
the candidates' time, as on the wall).

The anchor survives a restart of the server process (crash, systemd restart) within one
boot: it is kept in the database with the kernel's boot id, and a restarted server in the
same boot reuses it, so a wall clock stepped meanwhile still changes nothing. After a
reboot the elapsed-time clock starts again from zero and the anchor is taken afresh from
the wall. While no sitting runs, a drifted anchor is re-taken from the wall (`reanchor`):
the exam's time only needs to be steady while candidates are answering.

Stored times (the database, forms, result bundles) are exam time: the wall time of the
anchor carried forward, which is what the laptop's wall showed when the sitting ran.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def elapsed_clock() -> float:
    """Seconds on a clock that never steps and counts suspend (Linux), else monotonic."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.monotonic()


def boot_id() -> str:
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""  # no boot id: never reuse an anchor across processes


class ExamClock:
    """`now()` is exam time; `drift()` is how far the wall has moved away from it."""

    def __init__(self, wall: Callable[[], float] = time.time,
                 elapsed: Callable[[], float] = elapsed_clock,
                 anchor: tuple[float, float] | None = None) -> None:
        self.wall = wall
        self.elapsed = elapsed
        self.anchor_wall, self.anchor_elapsed = anchor if anchor else (wall(), elapsed())

    def __call__(self) -> float:
        return self.now()

    def now(self) -> float:
        return self.anchor_wall + (self.elapsed() - self.anchor_elapsed)

    def drift(self) -> float:
        """Wall minus exam time, seconds: positive when the wall clock was stepped forward."""
        return self.wall() - self.now()

    def reanchor(self) -> float:
        """Follow the wall again (only while no sitting runs); returns the step taken."""
        step = self.drift()
        self.anchor_wall, self.anchor_elapsed = self.wall(), self.elapsed()
        return step

    # -- persistence (the meta table) ------------------------------------------------
    def to_meta(self, boot: str) -> dict[str, str]:
        return {"clock_boot_id": boot, "clock_anchor_wall": repr(self.anchor_wall),
                "clock_anchor_elapsed": repr(self.anchor_elapsed)}

    @classmethod
    def from_meta(cls, meta: dict[str, str], boot: str, wall: Callable[[], float] = time.time,
                  elapsed: Callable[[], float] = elapsed_clock) -> "ExamClock":
        """Reuse the stored anchor if it was taken in this boot; else anchor on the wall now."""
        if boot and meta.get("clock_boot_id") == boot:
            try:
                anchor = (float(meta["clock_anchor_wall"]), float(meta["clock_anchor_elapsed"]))
            except (KeyError, ValueError):
                anchor = None
            if anchor is not None and anchor[1] <= elapsed():
                return cls(wall, elapsed, anchor)
        return cls(wall, elapsed)


class ManualClock(ExamClock):
    """For tests: a wall and an elapsed clock moved by hand."""

    def __init__(self, wall_start: float = 1_900_000_000.0) -> None:
        self._wall = wall_start
        self._elapsed = 1000.0
        super().__init__(lambda: self._wall, lambda: self._elapsed)

    def advance(self, seconds: float) -> None:
        """Real time passes: both clocks move."""
        self._wall += seconds
        self._elapsed += seconds

    def step_wall(self, seconds: float) -> None:
        """Someone (NTP, a person) sets the wall clock: only the wall moves."""
        self._wall += seconds
