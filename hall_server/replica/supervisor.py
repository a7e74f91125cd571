"""In the server: starts the copier (copier.py) as a child process, reads its one-line
reports, restarts it if it dies, and says on the console when the replica is failing or
falling behind. Reading the reports is a green thread on a pipe: nothing here touches the
stick, so a hung USB stick cannot stall the event loop."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


def replica_path(cfg) -> Path | None:
    """`[replica] path` as a folder (relative to the config file's folder), or None when off."""
    raw = cfg["replica"]["path"]
    if not raw:
        return None
    p = Path(raw)
    if not p.is_absolute() and cfg.path is not None:
        p = cfg.path.parent / p
    return p


class ReplicaSupervisor:
    def __init__(self, cfg, db_path: Path, base_url: str, clock: Callable[[], float],
                 spawn: Callable, sleep: Callable[[float], None]) -> None:
        rc = cfg["replica"]
        self.dest = replica_path(cfg)
        self.db_path = Path(db_path)
        proctor = cfg.data.get("proctor", {})
        self.photos = Path(db_path).parent / proctor["photo_dir"] if proctor.get("photo_dir") else None
        self.base_url = base_url
        self.interval = rc["interval_seconds"]
        self.max_cpu_share = rc["max_cpu_share"]
        self.stale_after = rc["stale_alert_seconds"]
        self.clock, self.spawn, self.sleep = clock, spawn, sleep
        self.started_at = clock()
        self.last_ok: dict | None = None   # the copier's latest successful report
        self.error: str | None = None
        self.proc: subprocess.Popen | None = None
        self.stopped = False

    def start(self) -> "ReplicaSupervisor":
        self.spawn(self._run)
        return self

    def command(self) -> list[str]:
        return [sys.executable, "-m", "hall_server.replica", "--db", str(self.db_path), "--dest", str(self.dest),
                "--interval", str(self.interval), "--max-cpu-share", str(self.max_cpu_share),
                "--base-url", self.base_url] + (["--photos", str(self.photos)] if self.photos else [])

    def _run(self) -> None:
        while not self.stopped:
            try:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            except OSError as e:
                self.error = f"无法启动复制进程: {e}"
                self.sleep(max(5.0, self.interval))
                continue
            for line in self.proc.stdout:
                self.note(line)
            code = self.proc.wait()
            if self.stopped:
                return
            self.error = f"复制进程已退出（代码 {code}），正在重新启动"
            log.error("replica copier exited with %s; restarting", code)
            self.sleep(max(2.0, self.interval))

    def note(self, line: bytes | str) -> None:
        try:
            r = json.loads(line)
        except ValueError:
            return
        if r.get("ok"):
            self.last_ok, self.error = r, None
        else:
            if self.error != r.get("error"):
                log.warning("replica copy failed: %s", r.get("error"))
            self.error = str(r.get("error"))

    def age(self) -> float:
        """Seconds of exam time the replica is behind now."""
        since = self.last_ok["taken_at"] if self.last_ok else self.started_at
        return max(0.0, self.clock() - since)

    def alert(self) -> str | None:
        age = self.age()
        if age <= self.stale_after:
            return None
        why = f"（{self.error}）" if self.error else ""
        return (f"实时备份已 {int(age)} 秒没有更新{why}：请检查备份U盘（{self.dest}）是否插好、是否已满。"
                "考试可以继续；但若本机故障，备用电脑只能从最后一次备份接管。")

    def status(self) -> dict:
        return {"path": str(self.dest), "age_s": round(self.age(), 1), "error": self.error,
                "last": self.last_ok}

    def stop(self) -> None:
        self.stopped = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
