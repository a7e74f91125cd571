"""The centre served as in production: ``python -m sync.central serve`` under gunicorn with
several worker processes sharing one database (SQLite and PostgreSQL), four sites' bundles
uploaded at once through the real client, the county run's way."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from hallproc import free_port
from hall_server.outbox import export_bundle
from contracts.upload import upload_bundle

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gunicorn-test-token"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def test_serve_runs_gunicorn_workers_that_share_the_database(tmp_path, make_hall, public_keys, central_db):
    keys = tmp_path / "site_keys.json"
    keys.write_text(json.dumps(public_keys))
    infos = {n: make_hall(n) for n in ("1", "2", "3", "42")}
    answer_keys = tmp_path / "answer_keys.json"
    answer_keys.write_text(json.dumps({t: k for _, i in infos.values() for t, k in i["keys"].items()}))
    usb = tmp_path / "usb"
    usb.mkdir()
    files = [export_bundle(db, usb)[0] for db, _ in infos.values()]
    cdb = central_db()
    spool = ["--spool-dir", str(central_db.spool(cdb))] if central_db.spool(cdb) else []
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HALL_CENTRAL_ADMIN_TOKEN": TOKEN}
    log = open(tmp_path / "server.log", "w")
    srv = subprocess.Popen([sys.executable, "-m", "sync.central", "serve", "--db", str(cdb), *spool,
                            "--site-keys", str(keys), "--answer-keys", str(answer_keys), "--port", str(port),
                            "--workers", "3", "--threads", "2"], cwd=ROOT, env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/api/health", timeout=0.5).ok and len(_children(srv.pid)) == 3:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        assert len(_children(srv.pid)) == 3, (tmp_path / "server.log").read_text()
        out = {}

        def go(f):
            out[f.name] = upload_bundle(f, url, chunk_size=8192, session=requests.Session())
        ts = [threading.Thread(target=go, args=(f,)) for f in files]
        [t.start() for t in ts]
        [t.join(60) for t in ts]
        assert {r.state for r in out.values()} == {"accepted"}, {k: (r.state, r.reason) for k, r in out.items()}
        assert sorted(r.receipt["receipt_no"] for r in out.values()) == [1, 2, 3, 4]
        again = upload_bundle(files[0], url)
        assert again.duplicate and again.receipt == out[files[0].name].receipt
        st = requests.get(url + "/api/status", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert st["totals"]["bundles"] == 4 and st["totals"]["received"] == 32
        page = requests.get(url + "/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert page.status_code == 200 and "成绩包接收情况" in page.text
        # the answer keys were loaded once, before the workers: every submitted attempt is scored
        from sync.central.store import Store
        store = Store(cdb, spool_dir=central_db.spool(cdb))
        try:
            rows = store.results()
            assert all(r["centre_score"] is not None for r in rows if r["status"] == "submitted")
        finally:
            store.close()
    finally:
        srv.terminate()
        srv.wait(20)
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert "gunicorn" in text.lower() and "Traceback" not in text, text
