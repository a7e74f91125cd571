"""Reading the machine for the preflight. Each function only reads and returns plain data;
the checks take that data as arguments, so tests pass their own."""
from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
from pathlib import Path


def run_text(cmd: list[str], timeout: float = 10) -> str | None:
    """stdout of a command, or None when it is not installed or fails to run."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else (r.stdout or "") + (r.stderr or "")


def mounts() -> str:
    return Path("/proc/mounts").read_text()


def disk_free(path: Path) -> int:
    p = Path(path)
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def nofile() -> tuple[int, int]:
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def power_supplies(root: Path = Path("/sys/class/power_supply")) -> list[dict]:
    out = []
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        info = {"name": d.name}
        for f in ("type", "online", "capacity", "status"):
            try:
                info[f] = (d / f).read_text().strip()
            except OSError:
                pass
        out.append(info)
    return out


def firewall_rules() -> dict[str, str | None]:
    return {"nft": run_text(["nft", "list", "ruleset"]), "iptables": run_text(["iptables-save"]),
            "ufw": run_text(["ufw", "status"])}


def printers() -> str | None:
    return run_text(["lpstat", "-p", "-d"])


def hall_processes() -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process that looks like `hall serve` / `demo` / `takeover` / `rehearsal`."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = [a.decode(errors="replace") for a in (d / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if is_hall_server(argv):
            out.append((int(d.name), argv))
    return out


def is_hall_server(argv: list[str]) -> bool:
    names = {Path(a).name for a in argv[:3]}
    return ("hall" in names or "hall_server" in argv) and bool({"serve", "demo", "takeover", "rehearsal"} & set(argv))


def port_in_use(host: str, port: int) -> bool:
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("" if host in ("0.0.0.0", "::") else host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def http_health(url: str, timeout: float = 3) -> dict | None:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=timeout) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def interface_addresses() -> list[str]:
    from ..net import lan

    return lan.interface_addresses()


def self_pid() -> int:
    return os.getpid()
