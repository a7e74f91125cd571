"""The central Store on both backends, without HTTP: races between two Stores on one
database (two server processes), receipt numbers, and a restart that finds everything."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from sync.central.admin import META_KEY, AdminAuth
from sync.central.store import Store
from contracts.result_bundle import BundleRejected, bundle_id
from hall_server.result_export import build_result_bundle
from contracts.upload_proof import sign_open


def _stores(central_db, public_keys, n=2):
    db = central_db()
    return [Store(db, site_keys=public_keys, spool_dir=central_db.spool(db)) for _ in range(n)]


def _race(fns):
    """Run the callables at the same moment; returns their results (or exceptions) in order."""
    out = [None] * len(fns)
    gate = threading.Barrier(len(fns))

    def run(i):
        gate.wait()
        try:
            out[i] = fns[i]()
        except Exception as e:         # noqa: BLE001 - the test inspects it
            out[i] = e
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    [t.start() for t in ts]
    [t.join(60) for t in ts]
    return out


def test_same_bundle_raced_by_two_stores_is_stored_once(make_hall, public_keys, central_db):
    a, b = _stores(central_db, public_keys)
    data = build_result_bundle(make_hall("17")[0])
    out = _race([lambda: a.ingest(data), lambda: b.ingest(data), lambda: a.ingest(data), lambda: b.ingest(data)])
    assert sorted(o[0] for o in out) == ["accepted", "duplicate", "duplicate", "duplicate"], out
    assert len({o[1]["receipt_no"] for o in out}) == 1 and out[0][1] == out[1][1]
    assert a.count("bundles") == 1 and a.count("bundle_blobs") == 1 and len(a.results()) == 8
    assert a.rejections() == []
    [s.close() for s in (a, b)]


def test_unique_bundle_id_alone_stops_a_double_store(make_hall, public_keys, central_db, monkeypatch):
    """Take away every look-up before the insert, the replay check and the per-site lock: the
    unique bundle_id and ON CONFLICT alone still store the bundle once, the others 'duplicate'."""
    from sync.central import dbconn
    real_execute, real_receipt = dbconn.Tx.execute, Store.existing_receipt
    first_look = threading.local()

    def execute(self, sql, args=()):
        if sql.startswith("SELECT 1 FROM bundles WHERE"):
            sql = sql.replace("WHERE", "WHERE 1 = 0 AND", 1)
        return real_execute(self, sql, args)

    def existing_receipt(self, bid):
        if not getattr(first_look, "done", False):
            first_look.done = True
            return None
        return real_receipt(self, bid)
    monkeypatch.setattr(dbconn.Tx, "execute", execute)
    monkeypatch.setattr(dbconn.Tx, "lock", lambda self, name: None)
    monkeypatch.setattr(Store, "existing_receipt", existing_receipt)
    monkeypatch.setattr(Store, "_check_not_stale", lambda self, c, payload: None)
    stores = _stores(central_db, public_keys, 4)
    data = build_result_bundle(make_hall("17")[0])
    out = _race([lambda s=s: s.ingest(data) for s in stores])
    assert sorted(o[0] for o in out) == ["accepted", "duplicate", "duplicate", "duplicate"], out
    assert stores[0].count("bundles") == 1 and stores[0].count("bundle_blobs") == 1
    assert len({o[1]["receipt_no"] for o in out}) == 1 and stores[0].rejections() == []
    [s.close() for s in stores]


def test_two_sites_at_once_on_two_stores_both_accepted_unique_receipts(make_hall, public_keys, central_db):
    a, b = _stores(central_db, public_keys)
    datas = [build_result_bundle(make_hall(n)[0]) for n in ("1", "2", "3", "42")]
    out = _race([lambda d=d, s=s: s.ingest(d) for d, s in zip(datas, (a, b, a, b))])
    assert [o[0] for o in out] == ["accepted"] * 4, out
    assert sorted(o[1]["receipt_no"] for o in out) == [1, 2, 3, 4]        # unique, no gaps
    assert a.count("bundles") == 4 and len(b.results()) == 32
    [s.close() for s in (a, b)]


def test_conflicting_bundles_raced_only_one_is_stored(tmp_path, make_hall, public_keys, central_db):
    db, info = make_hall("17")
    first = build_result_bundle(db)
    c = sqlite3.connect(db)
    c.execute("UPDATE candidates SET name = '改过' WHERE ticket = ?", (info["tickets"][0],))
    c.commit()
    c.close()
    second = build_result_bundle(db)              # same generation, other content
    a, b = _stores(central_db, public_keys)
    out = _race([lambda: a.ingest(first), lambda: b.ingest(second)])
    ok = [o for o in out if isinstance(o, tuple)]
    refused = [o for o in out if isinstance(o, BundleRejected)]
    assert len(ok) == 1 and ok[0][0] == "accepted" and len(refused) == 1 and refused[0].code == "conflict"
    assert a.count("bundles") == 1
    assert {r["bundle_id"] for r in a.results()} == {ok[0][1]["bundle_id"]}
    assert [r["code"] for r in a.rejections()] == ["conflict"]
    [s.close() for s in (a, b)]


def test_refused_bundle_leaves_nothing_behind(make_hall, public_keys, central_db, site_keys):
    from contracts.result_bundle import sign_payload
    import json
    st = _stores(central_db, public_keys, 1)[0]
    data = build_result_bundle(make_hall("17")[0])
    forged = sign_payload(json.loads(data)["payload"], site_keys["42"][0], "17")
    for bad in (data[:-40], forged, data.replace(b'"status":"submitted"', b'"status":"submittex"', 1)):
        with pytest.raises(BundleRejected):
            st.ingest(bad)
    assert st.count("bundles") == st.count("bundle_blobs") == 0 and st.results() == []
    assert len(st.rejections()) == 3
    assert st.ingest(data)[1]["receipt_no"] == 1             # refusals used up no receipt number
    st.close()


def test_a_restart_finds_everything(make_hall, public_keys, central_db, site_keys):
    db = central_db()
    spool = central_db.spool(db)
    (h1, i1), (h2, _) = make_hall("1"), make_hall("2")
    st = Store(db, site_keys=public_keys, spool_dir=spool)
    new_token = AdminAuth(st).new_token
    st.load_answer_keys({t: {"key": k} for t, k in i1["keys"].items()})
    _, rec = st.ingest(build_result_bundle(h1))
    st.set_pass_mark("临床", "执业医师", 60)
    half = build_result_bundle(h2)
    proof = sign_open(site_keys["2"][0], "2", bundle_id(half), len(half))
    u = st.open_upload(bundle_id(half), len(half), proof["site_no"], proof["sig"])["upload_id"]
    st.put_chunk(u, 0, half[:1000])
    before = (st.results(with_answers=True), st.bundles(), st.centre_public_b64, st.meta(META_KEY))
    st.close()

    again = Store(db, site_keys=public_keys, spool_dir=spool)       # a new process: nothing in memory
    assert (again.results(with_answers=True), again.bundles(), again.centre_public_b64,
            again.meta(META_KEY)) == before
    assert again.existing_receipt(rec["bundle_id"]) == rec
    assert again.bundle_bytes(rec["bundle_id"]) == build_result_bundle(h1)
    assert again.pass_marks() == {("临床", "执业医师"): 60}
    assert any(r["centre_score"] is not None for r in again.results())
    auth = AdminAuth(again)
    assert auth.new_token is None and auth.check(new_token)          # the token survives, only its hash stored
    assert new_token not in str(again.db.query("SELECT value FROM meta"))
    assert again.upload_state(u)["offset"] == 1000                   # the upload resumes where it was
    assert again.put_chunk(u, 1000, half[1000:])["offset"] == len(half)
    assert again.finalize_upload(u)[1]["receipt_no"] == 2
    again.close()


def test_missing_postgresql_binaries_are_a_clear_failure(monkeypatch):
    import pg_server
    monkeypatch.setattr(pg_server.glob, "glob", lambda pattern: [])
    with pytest.raises(pg_server.PostgresUnavailable, match="install Debian's 'postgresql' package"):
        pg_server.find_bindir()
