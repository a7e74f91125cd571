"""The replica folder (hall_server/replica/store.py): always one complete, verified copy;
only changed pages written; a torn or damaged copy is never used."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest

from hall_server.replica.copier import open_source, snapshot
from hall_server.replica.store import FILES, MARKER, ReplicaDir, ReplicaError


def live_db(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")       # as the server: the log keeps the changes
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('site_key_private', 'k'), ('site_no', '7')")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    return conn


def copy_once(store, src, seq=1):
    reader = open_source(src)
    try:
        taken_at, meta, image, page_size = snapshot(reader)
    finally:
        reader.close()
    return store.write(image, page_size, {"source_id": "s1", "seq": seq, "taken_at": taken_at})


def rows_in(path):
    """Read a copy the way takeover does: a copy of the file, never the file in place."""
    tmp = path.with_name("check.db")
    tmp.write_bytes(path.read_bytes())
    conn = sqlite3.connect(tmp)
    try:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        conn.close()
        tmp.unlink()


def test_copies_alternate_verify_and_hold_what_was_committed(tmp_path):
    src = tmp_path / "hall.db"
    w = live_db(src)
    store = ReplicaDir(tmp_path / "usb")
    store.claim("s1")
    for i in range(1, 6):
        w.execute("INSERT INTO t (v) VALUES (?)", ("x" * 500,))   # in the WAL only: no checkpoint
        marker, _ = copy_once(store, src, i)
        path, latest, notes = store.latest()
        assert (latest["seq"], notes) == (i, [])
        assert rows_in(path) == i
        assert marker["file"] == FILES[(i - 1) % 2]             # the two files in turn
    assert marker["previous"]["seq"] == 4


def test_only_changed_pages_are_written(tmp_path):
    src = tmp_path / "hall.db"
    w = live_db(src)
    w.executemany("INSERT INTO t (v) VALUES (?)", [("y" * 1000,)] * 2000)   # ~500 pages
    store = ReplicaDir(tmp_path / "usb")
    store.claim("s1")
    first, n1 = copy_once(store, src, 1)
    _, n2 = copy_once(store, src, 2)
    assert n1 == n2 == first["pages"] > 400            # both files written once in full
    _, n3 = copy_once(store, src, 3)
    assert n3 == 0                                      # nothing changed
    w.execute("UPDATE t SET v = 'z' WHERE id = 1000")
    _, n4 = copy_once(store, src, 4)
    assert 0 < n4 <= 4
    # A restarted copier learns what the files hold from the stick: no full rewrite either.
    _, n5 = copy_once(ReplicaDir(tmp_path / "usb"), src, 5)
    assert n5 <= 4


def test_a_copy_torn_by_a_crash_is_never_used(tmp_path, monkeypatch):
    src = tmp_path / "hall.db"
    w = live_db(src)
    store = ReplicaDir(tmp_path / "usb")
    store.claim("s1")
    w.execute("INSERT INTO t (v) VALUES ('a')")
    copy_once(store, src, 1)
    w.execute("INSERT INTO t (v) VALUES ('b')")
    copy_once(store, src, 2)
    w.executemany("INSERT INTO t (v) VALUES (?)", [("c" * 2000,)] * 300)
    real = os.pwrite
    calls = []

    def dying_pwrite(fd, data, offset):          # the laptop dies in the middle of a copy
        calls.append(offset)
        if len(calls) > 1:
            raise OSError(5, "Input/output error")
        return real(fd, data[:len(data) // 2], offset)

    monkeypatch.setattr(os, "pwrite", dying_pwrite)
    with pytest.raises(OSError):
        copy_once(store, src, 3)
    monkeypatch.undo()
    path, latest, notes = ReplicaDir(tmp_path / "usb").latest()
    assert latest["seq"] == 2 and notes == [] and rows_in(path) == 2


def test_a_damaged_copy_falls_back_to_the_one_before(tmp_path):
    src = tmp_path / "hall.db"
    w = live_db(src)
    store = ReplicaDir(tmp_path / "usb")
    store.claim("s1")
    for i in (1, 2):
        w.execute("INSERT INTO t (v) VALUES ('a')")
        copy_once(store, src, i)
    current = tmp_path / "usb" / json.loads((tmp_path / "usb" / MARKER).read_text())["file"]
    data = bytearray(current.read_bytes())
    data[-100] ^= 0xFF                                   # one flipped bit on a cheap stick
    current.write_bytes(bytes(data))
    path, latest, notes = ReplicaDir(tmp_path / "usb").latest()
    assert latest["seq"] == 1 and rows_in(path) == 1
    assert len(notes) == 1 and "不符" in notes[0]
    # both damaged: refused, with the reasons
    other = tmp_path / "usb" / latest["file"]
    other.write_bytes(other.read_bytes()[:-4096])
    with pytest.raises(ReplicaError, match="副本无法使用"):
        ReplicaDir(tmp_path / "usb").latest()


def test_another_databases_marker_and_stray_logs_are_cleared(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / MARKER).write_text(json.dumps({"format": "hall-replica/1", "file": FILES[0], "source_id": "other"}))
    (usb / (FILES[0] + "-wal")).write_bytes(b"stale")
    ReplicaDir(usb).claim("s1")
    assert not (usb / MARKER).exists() and not (usb / (FILES[0] + "-wal")).exists()
    with pytest.raises(ReplicaError, match="没有副本"):
        ReplicaDir(usb).latest()


def test_a_stick_that_is_not_mounted_is_an_error_not_a_folder_on_the_laptop(tmp_path):
    with pytest.raises(FileNotFoundError):
        ReplicaDir(tmp_path / "media" / "usb" / "hall-replica").claim("s1")
    assert not (tmp_path / "media").exists()
