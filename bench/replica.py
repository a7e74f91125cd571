"""The replica's cost and recovery point (issue 15 item 7, docs/takeover.md).

    python -m bench.replica [-n 1000] [--window 30] [--static-mb 0,100] [--interval 1.0]

For each database size (the bench plan, plus --static-mb of media rows: the papers and images
that do not change during a sitting, i.e. what a big site's database is mostly made of), runs
the steady exam (n phones, one answer each every 2 s) twice on the real server: without and
with `[replica]`. Reports answer p50/p99 both ways, the copier's CPU and the recovery point:
how far the copy on the stick is behind the laptop (now - taken_at of CURRENT.json), sampled
20 times a second during the run. The "stick" is a folder on this machine's disk.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.run import REPO, RESULTS, SIZES, Sampler, Workers, cached_db, merge, pct

sys.path.insert(0, str(REPO / "tests"))
from hallproc import HallProcess  # noqa: E402


def add_static(db: Path, mb: int) -> None:
    """Rows that never change during a sitting (media of the papers): size without churn."""
    if mb <= 0:
        return
    conn = sqlite3.connect(db)
    with conn:
        for i in range(mb):
            conn.execute("INSERT INTO media (name, content_type, data) VALUES (?, 'image/png', ?)",
                         (f"bench-static-{i}.png", os.urandom(1 << 20)))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


class LagSampler(threading.Thread):
    def __init__(self, marker: Path):
        super().__init__(daemon=True)
        self.marker, self.halt = marker, threading.Event()
        self.lags: list[float] = []
        self.copies: list[dict] = []

    def run(self):
        seen = None
        while not self.halt.is_set():
            try:
                m = json.loads(self.marker.read_text())
            except (OSError, ValueError):
                m = None
            if m:
                self.lags.append(time.time() - m["taken_at"])
                if m["seq"] != seen:
                    seen = m["seq"]
                    self.copies.append({k: m.get(k) for k in ("seq", "pages", "written_pages", "write_s")})
            self.halt.wait(0.05)


def copier_pid(server_pid: int) -> int | None:
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == server_pid and \
                        b"hall_server.replica" in (d / "cmdline").read_bytes():
                    return int(d.name)
            except (OSError, ValueError):
                pass
    return None


def run(n: int, window: float, static_mb: int, replica: bool, interval: float, td: Path) -> dict:
    db, plan = cached_db(n, 60)
    data = td / "hall"
    data.mkdir()
    shutil.copy(db, data / "hall.db")
    add_static(data / "hall.db", static_mb)
    size_mb = (data / "hall.db").stat().st_size / 2 ** 20
    usb = td / "usb" / "hall-replica"
    usb.parent.mkdir()
    extra = "max_connections_per_address = 0\n[security]\ndevice_change_requires_approval = false\n"
    if replica:
        extra += f'[replica]\npath = "{usb}"\ninterval_seconds = {interval}\n'
    hp = HallProcess(data, plan, config_extra=extra).start(timeout=60)
    sittings = sorted({c["sitting_id"] for c in plan["candidates"][:n]})
    sio = hp.staff_socket()
    for sid in sittings:
        assert sio.call("start_sitting", {"sitting": sid, "confirm_date": True}, namespace="/staff", timeout=30)["ok"]
    sio.disconnect()
    tokens = {sid: hp.qr_token(sid) for sid in sittings}
    cands = [{"ticket": c["ticket"], "id6": c["id_number"][-6:], "token": tokens[c["sitting_id"]]}
             for c in plan["candidates"][:n]]
    cfg = dict(SIZES["small"]["steady"], n=n, window=window)
    spec = {"scenario": "steady", "host": "127.0.0.1", "port": hp.port, "verify": True, **cfg}
    lag = LagSampler(usb / "CURRENT.json")
    ssamp = Sampler(hp.proc.pid)
    ssamp.start()
    csamp = None
    w = Workers(spec, cands, 2)
    try:
        t0 = w.barrier()
        if replica:
            pid = copier_pid(hp.proc.pid)
            csamp = Sampler(pid) if pid else None
            if csamp:
                csamp.start()
            lag.start()
        res = merge(w.results())
        t1 = res["t"].get("end", time.time())
        lag.halt.set()
        ssamp.stop()
        if csamp:
            csamp.stop()
    finally:
        w.kill()
        hp.stop()
    lat = res["lat"]
    out = {"db_mb": round(size_mb, 1), "replica": replica, "answers": res["durable"],
           "errors": sum(res["errors"].values()), "p50_ms": round(pct(lat, 50), 1), "p99_ms": round(pct(lat, 99), 1),
           "server_cpu_pct": round(ssamp.cpu_pct(t0, t1), 1)}
    if replica:
        copies = [c for c in lag.copies if c["written_pages"] is not None][2:]   # after both full first copies
        out.update(copier_cpu_pct=round(csamp.cpu_pct(t0, t1), 1) if csamp else None,
                   rpo_p50_s=round(pct(lag.lags, 50), 2), rpo_p99_s=round(pct(lag.lags, 99), 2),
                   rpo_max_s=round(max(lag.lags, default=float("nan")), 2), copies=len(lag.copies),
                   written_kb_per_copy=round(sum(c["written_pages"] for c in copies) * 4 / max(1, len(copies)), 1),
                   write_s_p99=round(pct([c["write_s"] for c in copies], 99), 3))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--static-mb", default="0,100")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--out", default=str(RESULTS / "replica.md"))
    a = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for mb in [int(x) for x in a.static_mb.split(",")]:
        for replica in (False, True):
            with tempfile.TemporaryDirectory(prefix="hall-bench-replica-") as td:
                r = run(a.n, a.window, mb, replica, a.interval, Path(td))
            print(json.dumps(r), flush=True)
            rows.append(r)
    head = ["db MB", "replica", "answers", "errors", "p50 ms", "p99 ms", "server CPU %", "copier CPU %",
            "recovery point p50 / p99 / max s", "copies", "KB written per copy", "copy write p99 s"]
    md = [f"`python -m bench.replica -n {a.n} --window {a.window:g} --interval {a.interval:g}`, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        rp = (f"{r['rpo_p50_s']} / {r['rpo_p99_s']} / {r['rpo_max_s']}" if r["replica"] else "—")
        md.append("| " + " | ".join(str(x) for x in (
            r["db_mb"], "on" if r["replica"] else "off", r["answers"], r["errors"], r["p50_ms"], r["p99_ms"],
            r["server_cpu_pct"], r.get("copier_cpu_pct", "—"), rp, r.get("copies", "—"),
            r.get("written_kb_per_copy", "—"), r.get("write_s_p99", "—"))) + " |")
    text = "\n".join(md) + "\n"
    Path(a.out).write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
