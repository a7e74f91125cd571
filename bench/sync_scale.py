"""Measure the sync path at city scale on loopback:
python -m bench.sync_scale --sites 343 --candidates 74 --workdir /tmp/syncbench [--db postgresql://…/emptydb]

Builds N finished DEMO hall DBs (tests/factories.finished_site: the importer and the exam's
own writer operations), exports their bundles to a folder, starts the central
service on loopback, runs the county-office upload over that folder, then times the
status page and the exports. Prints one JSON line of figures."""
from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=343)
    ap.add_argument("--candidates", type=int, default=74)
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--workdir", default="/tmp/syncbench")
    ap.add_argument("--chunk", type=int, default=256 * 1024)
    ap.add_argument("--db", help="the centre's database: default WORKDIR/centre.db; or an empty PostgreSQL "
                                 "database's URL")
    a = ap.parse_args(argv)
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from factories import finished_site, new_site_key
    from sync.central.app import create_app
    from sync.county import county_run
    from hall_server.outbox import export_bundle
    from hall_server.result_export import build_result_bundle
    from contracts.result_bundle import verify_result_bundle

    w = Path(a.workdir)
    shutil.rmtree(w, ignore_errors=True)
    (w / "halls").mkdir(parents=True)
    (w / "usb").mkdir()
    keys, answer_keys = {}, {}
    f: dict = {}
    t = time.perf_counter()
    for n in range(1, a.sites + 1):
        priv, pub = new_site_key()
        keys[str(n)] = pub
        info = finished_site(w / "halls" / f"{n}.db", str(n), priv, n_candidates=a.candidates,
                              questions=a.questions, rooms=3)
        answer_keys.update(info["keys"])
    f["make_halls_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    sizes = []
    for n in range(1, a.sites + 1):
        p, _ = export_bundle(w / "halls" / f"{n}.db", w / "usb")
        sizes.append(p.stat().st_size)
    f["export_all_s"] = round(time.perf_counter() - t, 2)
    f["bundle_bytes_mean"] = int(sum(sizes) / len(sizes))
    f["bundle_bytes_total"] = sum(sizes)
    one = w / "halls" / "1.db"
    t = time.perf_counter()
    data = build_result_bundle(one)
    f["build_one_ms"] = round((time.perf_counter() - t) * 1000, 1)
    t = time.perf_counter()
    verify_result_bundle(data, keys)
    f["verify_one_ms"] = round((time.perf_counter() - t) * 1000, 1)

    import secrets
    from sync.central.dbconn import is_postgres_url
    token = secrets.token_urlsafe(16)
    admin = {"Authorization": f"Bearer {token}"}
    db = a.db or w / "centre.db"
    app = create_app({"db": db, "spool_dir": w / "spool", "site_keys": keys, "answer_keys": answer_keys,
                      "admin_token": token})
    f["centre_db"] = "postgres" if is_postgres_url(db) else "sqlite"
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{srv.server_port}"
    t = time.perf_counter()
    s = county_run(w / "usb", url, out=io.StringIO(), chunk_size=a.chunk)
    f["county_run_s"] = round(time.perf_counter() - t, 2)
    f["accepted"] = len(s["accepted"])
    f["refused"] = len(s["refused"])
    f["upload_MBps"] = round(f["bundle_bytes_total"] / 1e6 / f["county_run_s"], 1)
    t = time.perf_counter()
    s2 = county_run(w / "usb", url, out=io.StringIO(), chunk_size=a.chunk)
    f["county_rerun_all_already_s"] = round(time.perf_counter() - t, 2)
    f["rerun_already"] = len(s2["already"])
    for path in ("/", "/api/status", "/export/results.xlsx", "/export/progress.csv", "/export/candidates.xlsx"):
        t = time.perf_counter()
        r = requests.get(url + path, headers=admin)
        r.raise_for_status()
        f[f"GET {path} ms"] = round((time.perf_counter() - t) * 1000, 1)
    st = requests.get(url + "/api/status", headers=admin).json()["totals"]
    f["status_totals"] = st
    store = app.extensions["hall_store"]
    f["centre_db_bytes"] = (int(store.db.query("SELECT pg_database_size(current_database())")[0][0])
                            if store.kind == "postgres" else Path(db).stat().st_size)
    srv.shutdown()
    print(json.dumps(f, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
