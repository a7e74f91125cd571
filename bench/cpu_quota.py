"""A weak laptop on a strong machine: confine a process to a fraction of one CPU with a
cgroup CPU quota (CFS bandwidth control), as `make bench-weak` does to the server under test.

cgroup v1: /sys/fs/cgroup/cpu/<name>/cpu.cfs_quota_us over cpu.cfs_period_us;
cgroup v2: /sys/fs/cgroup/<name>/cpu.max ("quota period"). Needs root. Moving a pid into
`cgroup.procs` moves all its threads; threads and children it starts later stay inside.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

PERIOD_US = 100_000          # the kernel's default CFS period
# With the default period a group on half a core may run 50 ms flat out and then wait up to
# 50 ms: a stall no slow CPU has. A shorter period spreads the same share evenly.


class CpuQuota:
    def __init__(self, fraction: float, name: str | None = None, root: Path = Path("/sys/fs/cgroup"),
                 period_us: int = PERIOD_US):
        if not 0 < fraction <= 64:
            raise ValueError("fraction of a CPU must be in (0, 64]")
        self.fraction = fraction
        self.period_us = period_us
        self.quota_us = int(round(fraction * period_us))
        name = name or f"hall-bench-{os.getpid()}-{time.monotonic_ns()}"
        v1 = root / "cpu"
        if (v1 / "cpu.cfs_quota_us").exists():
            self.version, self.path = 1, v1 / name
        elif (root / "cgroup.controllers").exists() and "cpu" in (root / "cgroup.controllers").read_text().split():
            self.version, self.path = 2, root / name
        else:
            raise RuntimeError(f"no cgroup CPU controller under {root}")
        try:
            self.path.mkdir()
        except PermissionError:
            raise RuntimeError(f"cannot create {self.path}: run as root") from None
        if self.version == 1:
            (self.path / "cpu.cfs_period_us").write_text(str(period_us))
            (self.path / "cpu.cfs_quota_us").write_text(str(self.quota_us))
        else:
            (self.path / "cpu.max").write_text(f"{self.quota_us} {period_us}")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def stat(self) -> dict[str, int]:
        """nr_periods, nr_throttled, throttled time (us) so far."""
        out = {}
        for line in (self.path / "cpu.stat").read_text().splitlines():
            k, v = line.split()
            out[k] = int(v)
        if "throttled_time" in out:                     # v1 reports ns
            out["throttled_usec"] = out.pop("throttled_time") // 1000
        return out

    def close(self) -> None:
        """Move whatever is left back to the parent group, then remove the group."""
        procs = self.path / "cgroup.procs"
        if not procs.exists():
            return
        for pid in procs.read_text().split():
            try:
                (self.path.parent / "cgroup.procs").write_text(pid)
            except OSError:
                pass
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)
