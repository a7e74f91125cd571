"""Contract with the real hall: import the demo plan, run a sitting through the hall's
own exam operations, then export, upload and re-score at the centre."""
from __future__ import annotations

import json
import time


from contracts.upload import upload_bundle
from hall_server.result_export import build_result_bundle
from contracts.result_bundle import verify_result_bundle

from contracts.shipped import SITES_CSV  # the copy the repo ships


def test_real_hall_sitting_end_to_end(tmp_path, start_central):
    from hall_server import demo
    from hall_server.db import schema
    from hall_server.exam import ops
    db_path = tmp_path / "hall.db"
    demo.build_demo_db(db_path, SITES_CSV)
    conn = schema.connect(db_path)
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    sid = conn.execute("SELECT sitting_id FROM sittings ORDER BY sitting_id LIMIT 1").fetchone()[0]
    tickets = [r[0] for r in conn.execute("SELECT ticket FROM candidates WHERE sitting_id = ? ORDER BY ticket",
                                          (sid,))]
    keys = {r[0]: json.loads(r[1]) for r in conn.execute("SELECT ticket, key_json FROM paper_keys")}
    rk = b"k" * 32
    now = time.time()
    ops.start_sitting(conn, sid, now, "chief")
    t1, t2 = tickets[0], tickets[1]
    for i, t in enumerate((t1, t2)):
        ops.login(conn, t, sid, now + 1, f"dev-{t}", "h")
        ops.confirm(conn, t, now + 2)
        ops.open_paper(conn, t, now + 3)
        for q in range(1, 11):
            choice = keys[t][q - 1] if q % 3 else "E" if keys[t][q - 1] != "E" else "A"
            ops.answer(conn, t, q, choice, q, now + 10 + q, f"dev-{t}", 50)
    ops.login(conn, t2, sid, now + 30, "other-phone", "h2", False)     # device take-over
    ops.submit(conn, t1, [], now + 1000, f"dev-{t1}", rk, 50)
    ops.end_sitting(conn, sid, now + 4000, "chief", rk)                 # t2 finalized by staff
    conn.close()

    data = build_result_bundle(db_path)
    assert data == build_result_bundle(db_path)
    p = verify_result_bundle(data, {meta["site_no"]: meta["site_key_public"]})
    assert p["site"]["demo"] is True and p["generation"] > 5
    att = {a["ticket"]: a for a in p["attempts"]}
    assert att[t1]["status"] == "submitted" and att[t2]["device_changes"] == 1
    assert any(e["kind"] == "takeover" and e["ticket"] == t2 for e in p["device_events"])

    central = start_central(site_keys={meta["site_no"]: meta["site_key_public"]}, answer_keys=keys)
    f = tmp_path / "r.hallresult"
    f.write_bytes(data)
    res = upload_bundle(f, central.url, chunk_size=4096)
    assert res.state == "accepted", res.reason
    rows = {r["ticket"]: r for r in central.store.results()}
    for t in (t1, t2):
        assert rows[t]["centre_score"] == rows[t]["site_score"] == 7      # 10 answered, 3 wrong
    assert rows[tickets[2]]["status"] == "absent" and rows[tickets[2]]["in_bundle"] == 1
