"""`hall takeover`: what it refuses (and then changes nothing), and what it records."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from factories import make_plan
from hallproc import REPO
from hall_server.importer import import_plan
from hall_server.replica.copier import open_source, snapshot, source_id
from hall_server.replica.store import ReplicaDir

URL = "http://127.0.0.1:18080"


def replica_of(tmp_path: Path, *, taken_at: float, base_url: str = URL, started: bool = True) -> tuple[Path, dict]:
    """A stick holding a copy of a site whose sitting R01 runs and one candidate is past its deadline."""
    plan = make_plan(candidates_per_room=3, rooms=2, questions=5)
    db = tmp_path / "primary" / "hall.db"
    import_plan(db, plan)
    conn = sqlite3.connect(db, isolation_level=None)
    c0, c1 = (c["ticket"] for c in plan["candidates"][:2])
    if started:
        conn.execute("UPDATE sittings SET status = 'started', started_at = ? WHERE sitting_id = 'D1S1-R01'",
                     (taken_at - 600,))
        for t, deadline in ((c0, taken_at - 5), (c1, taken_at + 1800)):
            conn.execute("INSERT INTO attempts (ticket, sitting_id, status, opened_at, deadline_at) VALUES"
                         " (?, 'D1S1-R01', 'answering', ?, ?)", (t, taken_at - 590, deadline))
            conn.execute("INSERT INTO answers (ticket, q, choice, seq, saved_at) VALUES (?, 1, 'A', 1, ?)",
                         (t, taken_at - 100))
    conn.close()
    reader = open_source(db)
    _, meta, image, page_size = snapshot(reader)
    reader.close()
    usb = tmp_path / "usb"
    store = ReplicaDir(usb)
    (usb / "photos" / "cd").mkdir(parents=True)
    (usb / "photos" / "cd" / ("cd" + "1" * 62 + ".jpg")).write_bytes(b"photo")
    store.claim(source_id(meta["site_key_private"]))
    store.write(image, page_size, {"source_id": source_id(meta["site_key_private"]), "seq": 7, "taken_at": taken_at,
                                   "site_no": "1", "site_name": "测试考点医院", "base_url": base_url, "host": "old-laptop"})
    return usb, plan


def takeover(tmp_path: Path, usb: Path, *extra: str, port: int = 18080) -> subprocess.CompletedProcess:
    cfg = tmp_path / "spare.toml"
    cfg.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{tmp_path / "spare"}"\n'
                   f'public_url = "http://127.0.0.1:{port}"\n[proctor]\nface_worker = false\n', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "hall_server", "--config", str(cfg), "takeover", "--from", str(usb),
                           "--no-serve", *extra], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_takeover_records_pause_seal_incident_and_audit(tmp_path):
    t_r = time.time() - 120
    usb, plan = replica_of(tmp_path, taken_at=t_r)
    r = takeover(tmp_path, usb)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "备用电脑接管" in r.stdout and "第 7 次备份" in r.stdout and "恢复考试" in r.stdout
    conn = sqlite3.connect(tmp_path / "spare" / "hall.db")
    s = conn.execute("SELECT status, paused_at FROM sittings WHERE sitting_id = 'D1S1-R01'").fetchone()
    assert s == ("paused", t_r)                                   # paused from the copy's time
    assert conn.execute("SELECT status FROM sittings WHERE sitting_id = 'D1S1-R02'").fetchone()[0] == "planned"
    c0, c1 = (c["ticket"] for c in plan["candidates"][:2])
    a0 = conn.execute("SELECT status, submit_reason, submitted_at FROM attempts WHERE ticket = ?", (c0,)).fetchone()
    assert a0 == ("submitted", "time_up", t_r - 5)                # due before the copy: sealed at its deadline
    assert conn.execute("SELECT status FROM attempts WHERE ticket = ?", (c1,)).fetchone()[0] == "answering"
    inc = conn.execute("SELECT kind, text FROM incidents WHERE sitting_id = 'D1S1-R01'").fetchall()
    assert len(inc) == 1 and inc[0][0] == "system" and "备用电脑" in inc[0][1]
    assert conn.execute("SELECT value FROM meta WHERE key = 'takeover_replica_seq'").fetchone()[0] == "7"
    assert (tmp_path / "spare" / "photos" / "cd" / ("cd" + "1" * 62 + ".jpg")).read_bytes() == b"photo"
    conn.close()
    audit = subprocess.run([sys.executable, "-m", "hall_server", "audit", "verify", "--data-dir",
                            str(tmp_path / "spare")], cwd=REPO, capture_output=True, text=True)
    assert audit.returncode == 0, audit.stderr


def test_takeover_refusals_change_nothing(tmp_path):
    usb, _ = replica_of(tmp_path, taken_at=time.time() - 60, base_url="http://192.168.1.23:8080")
    r = takeover(tmp_path, usb)
    assert r.returncode == 2 and "192.168.1.23" in r.stderr and "nmcli" in r.stderr     # another address
    assert not (tmp_path / "spare" / "hall.db").exists()
    r = takeover(tmp_path, usb, "--ignore-address")
    assert r.returncode == 0, r.stderr
    r = takeover(tmp_path, usb, "--ignore-address")
    assert r.returncode == 2 and "--replace" in r.stderr                                 # a database is there
    r = takeover(tmp_path, usb, "--ignore-address", "--replace")
    assert r.returncode == 0 and "改名保留" in r.stdout
    assert list((tmp_path / "spare").glob("hall.db.before-takeover-*"))
    r = takeover(tmp_path, tmp_path / "nothing-here")
    assert r.returncode == 2 and "没有副本" in r.stderr


def test_takeover_refuses_a_spare_whose_clock_is_behind(tmp_path):
    usb, _ = replica_of(tmp_path, taken_at=time.time() + 3600)
    r = takeover(tmp_path, usb)
    assert r.returncode == 2 and "校准" in r.stderr
    assert not (tmp_path / "spare").exists()
