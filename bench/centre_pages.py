"""The centre's pages at city scale (issue 18 item 6): 343 sites, 25,242 candidates.

    python -m bench.centre_pages [--db postgresql://…/emptydb | --pg-temp] [--workdir /tmp/centrepages]

Builds one finished DEMO hall per site (sites.csv's 343; 203 with 74 candidates and 140
with 73 = 25,242, 100 questions), signs and ingests every bundle through the real Store,
loads the roster, pass marks, district tokens, approves half of the violation cases and a
few deferrals, then times each page and export as the city and as one district office
(median of --repeat GETs over loopback, the real app in a threaded server). Prints one
JSON line. ``--pg-temp`` runs a throw-away PostgreSQL server (tests/sync/pg_server.py)."""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))      # tests/factories.finished_site builds the halls
from contracts.exam import CATEGORIES  # noqa: E402
from contracts.shipped import SITES_CSV  # noqa: E402  (the 343 sites hall ships)
from contracts.shipped import read_csv_rows  # noqa: E402
CANDIDATES = 25_242


def build_centre(db, w: Path, questions: int, sites_csv: Path, candidates: int) -> tuple[dict, dict]:
    from sync.central.accounts import issue_office_token
    from sync.central.app import create_app
    from factories import finished_site, new_site_key
    from hall_server.result_export import build_result_bundle
    sites = read_csv_rows(sites_csv)
    per = [candidates // len(sites) + (1 if i < candidates % len(sites) else 0) for i in range(len(sites))]
    keys, answer_keys, roster, bundles, f = {}, {}, [], [], {}
    t = time.perf_counter()
    for s, n in zip(sites, per):
        priv, pub = new_site_key()
        no = str(s["site_no"])
        keys[no] = pub
        info = finished_site(w / f"{no}.db", no, priv, n_candidates=n, questions=questions, rooms=3,
                              district=s["district"])
        answer_keys.update(info["keys"])
        roster += info["roster"]
        bundles.append(build_result_bundle(w / f"{no}.db"))
        (w / f"{no}.db").unlink()
    f["build_halls_and_bundles_s"] = round(time.perf_counter() - t, 1)
    token = "bench-city-token"
    app = create_app({"db": db, "spool_dir": w / "spool", "site_keys": keys, "admin_token": token,
                      "sites_csv": sites_csv})
    store = app.extensions["hall_store"]
    store.load_roster(roster)
    t = time.perf_counter()
    for data in bundles:
        store.ingest(data, source="usb")
    f["ingest_all_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    store.load_answer_keys({k: {"key": v} for k, v in answer_keys.items()})
    f["load_keys_and_rescore_s"] = round(time.perf_counter() - t, 1)
    for cat in CATEGORIES:
        store.set_pass_mark(cat, "执业医师", 60)
        store.set_pass_mark(cat, "执业助理医师", 55)
    from sync.central import cases, deferrals
    from sync.central.accounts import city_principal, office_principal
    from sync.central.offices import office_of_district
    city = city_principal()
    offices = {}
    for i, c in enumerate(cases.listing(store, city)):
        d = next(s["district"] for s in sites if str(s["site_no"]) == c["site_no"])
        office = office_of_district(d)
        if office not in offices and office != "市定考办":
            offices[office] = issue_office_token(store, office)
        if i % 2 == 0:
            p = city if office == "市定考办" else office_principal(offices[office][0]["account"])
            cases.review(store, p, c["case_id"], "cheating", "bench")
            cases.approve(store, city, c["case_id"], "cheating", "bench")
    absent = [r for r in store.results() if r["status"] == "absent"][:40]
    for r in absent:
        d = next(s["district"] for s in sites if str(s["site_no"]) == r["site_no"])
        office = office_of_district(d)
        if office == "市定考办":
            continue
        p = office_principal(offices[office][0]["account"])
        deferrals.request(store, p, r["ticket"], "bench")
        deferrals.decide(store, city, r["ticket"], True)
    f["results_rows"] = len(store.results())
    f["cases"] = store.count("cases")
    district_token = offices.get("渝中区", next(iter(offices.values())))[1]
    return app, {"city": token, "district": district_token, "figures": f}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", help="an empty PostgreSQL database's URL (default: WORKDIR/centre.db, SQLite)")
    ap.add_argument("--pg-temp", action="store_true", help="start a throw-away PostgreSQL server for the run")
    ap.add_argument("--workdir", default="/tmp/centrepages")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sites-csv", default=str(SITES_CSV))
    ap.add_argument("--candidates", type=int, default=CANDIDATES)
    a = ap.parse_args(argv)
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    w = Path(a.workdir)
    shutil.rmtree(w, ignore_errors=True)
    w.mkdir(parents=True)
    pg = None
    db = a.db or w / "centre.db"
    if a.pg_temp:
        sys.path.insert(0, str(ROOT / "tests" / "sync"))
        from pg_server import PgServer
        pg = PgServer().start()
        db = pg.url(pg.create_db("centrepages"))
    try:
        app, who = build_centre(db, w, a.questions, Path(a.sites_csv), a.candidates)
        f = {"db": "postgres" if str(db).startswith("postgres") else "sqlite", **who["figures"]}
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        th.start()
        url = f"http://127.0.0.1:{srv.server_port}"
        unit = app.extensions["hall_store"].results(site_no="17")[0]["unit"]
        pages = ["/", "/api/status", "/cases", "/api/cases", "/deferrals", "/export/progress.xlsx",
                 "/export/results.xlsx", "/export/makeup.xlsx", "/export/candidates.xlsx",
                 f"/notices/unit.pdf?unit={unit}"]
        for role in ("city", "district"):
            h = {"Authorization": f"Bearer {who[role]}"}
            for path in pages:
                if role == "district" and path.startswith("/notices"):
                    continue
                times = []
                for _ in range(a.repeat):
                    t = time.perf_counter()
                    r = requests.get(url + path, headers=h)
                    r.raise_for_status()
                    times.append((time.perf_counter() - t) * 1000)
                f[f"{role} GET {path.split('?')[0]} ms"] = round(statistics.median(times), 1)
        st = requests.get(url + "/api/status", headers={"Authorization": f"Bearer {who['city']}"}).json()["totals"]
        f["totals"] = st
        srv.shutdown()
        app.extensions["hall_store"].close()
    finally:
        if pg is not None:
            pg.stop()
    print(json.dumps(f, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
