"""Shared tools for the attack suite (tests/attack): a raw Socket.IO client that can send
malformed packets and connect from any 127.x.y.z source address, the ack-shape check,
database snapshots, and the tally of cases tried/rejected printed at the end of the run.

No conftest.py here on purpose: tests/core does `from factories import fast_plan`, which a
second conftest module named "conftest" would shadow.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
import requests
import socketio

from hallproc import HallProcess, Phone, RawSio

from hall_server.exam.errors import MESSAGES

REPO = Path(__file__).resolve().parents[2]
KNOWN_CODES = frozenset(MESSAGES)
SNAPSHOT_TABLES = ("sittings", "attempts", "answers", "answer_log", "audit_log")


def examples(default: int) -> int:
    """Hypothesis examples per property; HALL_FUZZ_EXAMPLES scales every property (CI: default)."""
    scale = float(os.environ.get("HALL_FUZZ_SCALE", "1"))
    return max(5, int(default * scale))


# -- the tally ----------------------------------------------------------------------

class Tally:
    """Cases tried / rejected per surface, printed in the terminal summary and written to
    test-output/attack-cases.json for the closing note."""

    PLUGIN = "hall-attack-tally"

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, surface: str, outcome: str, *tags: str) -> None:
        """One case: outcome is "rejected" or what else happened; tags are counted alongside."""
        self.rows[surface]["tried"] += 1
        self.rows[surface][outcome] += 1
        for t in tags:
            self.rows[surface][t] += 1

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rows:
            return
        tr = terminalreporter
        tr.section("attack suite: cases tried / rejected")
        tot = defaultdict(int)
        for surface in sorted(self.rows):
            r = self.rows[surface]
            for k, v in r.items():
                tot[k] += v
            extra = ", ".join(f"{k}={v}" for k, v in sorted(r.items()) if k not in ("tried", "rejected"))
            tr.write_line(f"{surface:<34} tried={r['tried']:<6} rejected={r.get('rejected', 0):<6} {extra}")
        extra = ", ".join(f"{k}={v}" for k, v in sorted(tot.items()) if k not in ("tried", "rejected"))
        tr.write_line(f"{'TOTAL':<34} tried={tot['tried']:<6} rejected={tot.get('rejected', 0):<6} {extra}")
        out = REPO / "test-output"
        out.mkdir(exist_ok=True)
        (out / "attack-cases.json").write_text(
            json.dumps({k: dict(v) for k, v in self.rows.items()}, indent=1, sort_keys=True), encoding="utf-8")


@pytest.fixture(scope="session")
def tally(pytestconfig) -> Tally:
    pm = pytestconfig.pluginmanager
    t = pm.get_plugin(Tally.PLUGIN)
    if t is None:
        t = Tally()
        pm.register(t, Tally.PLUGIN)
    return t


# -- acks ---------------------------------------------------------------------------

def check_ack(ack) -> str | None:
    """Assert the documented ack shape; return the error code, or None for ok."""
    assert isinstance(ack, dict), ack
    assert isinstance(ack.get("now"), int) and abs(ack["now"] / 1000 - time.time()) < 60, ack
    if ack.get("ok") is True:
        assert "error" not in ack, ack
        return None
    assert ack.get("ok") is False, ack
    err = ack.get("error")
    assert isinstance(err, dict), ack
    assert err.get("code") in KNOWN_CODES, ack
    assert isinstance(err.get("message"), str) and err["message"], ack
    return err["code"]


# -- the database -------------------------------------------------------------------

def snapshot(hall: HallProcess) -> dict:
    with hall.db() as db:
        return {t: [tuple(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY rowid")]
                for t in SNAPSHOT_TABLES if t != "answers"} | {
            "answers": [tuple(r) for r in db.execute("SELECT * FROM answers ORDER BY ticket, q")]}


# -- a raw Socket.IO client -------------------------------------------------------------

def hall_with(data_dir, plan, server_extra: str = "", config_extra: str = "") -> HallProcess:
    """A HallProcess with extra keys in [server] (config_extra cannot add them: TOML
    forbids a second [server] table). Not started."""
    h = HallProcess(data_dir, plan, config_extra=config_extra)
    text = h.config_path.read_text(encoding="utf-8")
    h.config_path.write_text(text.replace("[server]\n", "[server]\n" + server_extra, 1), encoding="utf-8")
    return h


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def healthy(hall: HallProcess) -> bool:
    try:
        r = requests.get(hall.url + "/healthz", timeout=5)
        return r.status_code == 200 and r.json()["ok"] is True and hall.proc.poll() is None
    except requests.RequestException:
        return False


def handler_failures(hall: HallProcess) -> list[str]:
    """Exceptions the handlers' safety net caught (acks.handler logs them), each as
    "<last hall_server frame> <exception line>": every one is a hostile input that reached
    code which did not expect it (the phone still got bad_request)."""
    lines = hall.log.read_text(errors="replace").splitlines()
    out = []
    for i, line in enumerate(lines):
        if "handler " in line and " failed" in line:
            frame, exc = "?", "?"
            for nxt in lines[i + 1:i + 60]:
                if 'File "' in nxt and "hall_server" in nxt:
                    frame = nxt.strip().split("hall_server/")[-1]
                elif nxt and not nxt.startswith(" ") and ("Error" in nxt or "Exception" in nxt):
                    exc = nxt.strip()
                    break
            out.append(f"{frame} -> {exc}")
    return out


def answering(hall: HallProcess, cand: dict, start: bool = True, device: str | None = None) -> Phone:
    p = Phone(hall, cand["ticket"], cand["id_number"][-6:], device=device).connect()
    r = p.login(cand["sitting_id"])
    assert r["ok"], r
    assert p.call("confirm")["ok"]
    if start:
        hall.start_sitting(cand["sitting_id"])
    r = p.call("open")
    assert r["ok"], r
    return p


__all__ = ["hall_with", "HallProcess", "Phone", "RawSio", "Tally", "tally", "check_ack", "snapshot", "examples",
           "cookie_header", "healthy", "handler_failures", "answering", "KNOWN_CODES", "socketio", "threading"]
