"""`hall doctor`: the preflight before an exam day, in Chinese, one pass/fail line per check,
exit 1 when something must be fixed before the first sitting. The console's home page shows
the same lines (it runs `hall doctor --json` in a process of its own).

The checks (system_checks, network_checks, site_checks) take plain data as arguments;
``run`` reads the machine through probes.py and hands it to them.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from . import network_checks, probes, replica_check, site_checks, system_checks
from .result import FAIL, PASS, WARN, Check, format_text

__all__ = ["Check", "PASS", "WARN", "FAIL", "run", "format_text", "cmd_doctor"]


def _office(district: str) -> str:
    from contracts.offices import office_for_district

    o = office_for_district(district) if district else None
    return f"{o.name}定考办（{'、'.join(o.phones)}）" if o and o.name != "市定考办" else (
        f"市定考办（{'、'.join(o.phones)}）" if o else "区县定考办")


def verify_codes(db_path: Path, codes_text: str) -> dict[str, bool]:
    """{sitting_id: the code opens its sealed papers} for every line naming a sealed sitting."""
    import sqlite3

    from contracts.site_bundle import BundleError, load_sealed, open_sitting

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    sealed = dict(conn.execute("SELECT sitting_id, sealed FROM sealed_sittings").fetchall())
    conn.close()
    out = {}
    for line in codes_text.splitlines():
        words = line.split()
        hits = [w for w in words if w in sealed]
        if hits and len(words) >= 2:
            try:
                open_sitting(load_sealed(sealed[hits[0]]), words[-1])
                out[hits[0]] = True
            except (BundleError, ValueError):
                out[hits[0]] = False
    return out


def run(cfg, config_path: str | None = None, server_pid: int | None = None, codes_text: str | None = None,
        now: dt.datetime | None = None) -> list[Check]:
    from contracts.audit_chain import verify_chain

    from ..net.lan import lan_address, public_base_url
    from ..net.listen import FD_HEADROOM
    from contracts.fonts import find_font_file

    srv, doc = cfg["server"], cfg["doctor"]
    now = now or dt.datetime.now().astimezone()
    site = site_checks.read_site(cfg.db_path)
    base = public_base_url(cfg)
    in_use = probes.port_in_use(srv["host"], srv["port"])
    local = probes.http_health(f"http://127.0.0.1:{srv['port']}") if in_use else None
    serving = bool(local and "now" in local)
    soft, hard = probes.nofile()
    db_bytes = sum(p.stat().st_size for p in cfg.data_dir.glob("hall.db*")) if cfg.data_dir.exists() else 0
    verified = verify_codes(cfg.db_path, codes_text) if codes_text and site else None
    office = _office(site["meta"].get("district", "") if site else "")
    return [
        site_checks.bundle(site, verify_chain(site["audit"]) if site and not site.get("broken") else None),
        site_checks.clock(now, site),
        site_checks.release_codes(site, now.date().isoformat(), office, verified),
        network_checks.lan_address(srv["host"], srv["public_url"], lan_address(), probes.interface_addresses()),
        network_checks.port_reachable(base, serving, probes.http_health(base) if serving else None, srv["port"]),
        system_checks.firewall(probes.firewall_rules(), srv["port"]),
        network_checks.second_process(probes.hall_processes(), {probes.self_pid(), server_pid}, config_path, srv["port"],
                                      in_use, serving, server_pid),
        system_checks.disk_space(probes.disk_free(cfg.data_dir), site["candidates"] if site else 0, db_bytes,
                                 doc["min_free_mb"], doc["disk_per_candidate_kb"]),
        system_checks.real_disk(cfg.data_dir, probes.mounts()),
        system_checks.open_files(soft, hard, srv["max_connections"], FD_HEADROOM),
        system_checks.power(probes.power_supplies(), doc["battery_min_percent"]),
        system_checks.cjk_font(find_font_file),
        system_checks.printer(probes.printers(), doc["expect_printer"]),
        _replica(cfg, db_bytes, serving),
    ]


def _replica(cfg, db_bytes: int, serving: bool) -> Check:
    import os
    import time

    from ..replica.store import ReplicaDir, ReplicaError
    from ..replica.supervisor import replica_path

    path = replica_path(cfg)
    writable = free = marker = None
    if path is not None and path.parent.exists():
        target = path if path.exists() else path.parent
        writable = os.access(target, os.W_OK)
        free = probes.disk_free(target)
        try:
            marker = ReplicaDir(path).marker()
        except ReplicaError as e:
            marker = str(e)
    return replica_check.replica(path, cfg.data_dir, probes.mounts(), writable, free, db_bytes, marker, serving,
                                 time.time(), cfg["replica"]["stale_alert_seconds"])


def cmd_doctor(args, cfg) -> int:
    codes = Path(args.release_codes).read_text(encoding="utf-8-sig") if args.release_codes else None
    checks = run(cfg, str(Path(args.config).resolve()) if args.config else None, args.server_pid, codes)
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], ensure_ascii=False))
    else:
        print(f"hall 考前自检  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M}  数据目录 {cfg.data_dir}")
        print(format_text(checks))
    return 1 if any(c.blocker for c in checks) else 0


def console_checks(cfg, timeout: float = 60) -> list[dict] | None:
    """The console's copy: `hall doctor --json` in its own process (subprocesses and sockets
    stay off the event loop); None if it could not run."""
    import subprocess

    cmd = [sys.executable, "-m", "hall_server", *(["--config", str(cfg.path)] if cfg.path else []), "doctor", "--json",
           "--data-dir", str(cfg.data_dir), "--port", str(cfg["server"]["port"]), "--host", cfg["server"]["host"],
           "--server-pid", str(probes.self_pid())]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return json.loads(r.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
