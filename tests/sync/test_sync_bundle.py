"""Audit chain and result bundle: determinism, contents, every kind of bad file."""
from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from contracts.audit_chain import GENESIS, append_entry, entry_hash, verify_chain
from contracts.result_bundle import BundleRejected, bundle_id, sign_payload, verify_result_bundle
from hall_server.result_export import build_result_bundle


# ---------------------------------------------------------------------- audit chain

ROW = {"id": 1, "ts": 1693789200.5, "actor": "chief", "action": "sitting_started",
       "sitting_id": "D1S1-R01", "ticket": None, "data": '{"a":1,"名":"张三"}'}


def test_entry_hash_is_pinned():
    """The rule is a contract with every hall in the field: pin one value."""
    import hashlib
    expect = hashlib.sha256(json.dumps(
        [GENESIS, 1, 1693789200.5, "chief", "sitting_started", "D1S1-R01", None, '{"a":1,"名":"张三"}'],
        ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()).hexdigest()
    assert entry_hash(GENESIS, ROW) == expect
    assert entry_hash(GENESIS, {**ROW, "data": {"名": "张三", "a": 1}}) == expect   # dict -> canonical text
    assert entry_hash(GENESIS, {**ROW, "ts": 1693789200}) == entry_hash(GENESIS, {**ROW, "ts": 1693789200.0})
    assert entry_hash(GENESIS, ROW) != entry_hash("1" * 64, ROW)


def _chain(n=6):
    c = sqlite3.connect(":memory:")
    c.row_factory = sqlite3.Row
    c.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, ts REAL, actor TEXT, action TEXT,"
              " sitting_id TEXT, ticket TEXT, data TEXT, prev_hash TEXT, hash TEXT)")
    for i in range(n):
        append_entry(c, ts=1000.0 + i, actor="a", action="x", ticket=f"t{i}", data={"i": i})
    return c, [dict(r) for r in c.execute("SELECT * FROM audit_log ORDER BY id")]


def test_verify_chain_finds_first_bad_entry():
    _, rows = _chain()
    assert verify_chain(rows) == (True, None)
    assert verify_chain([]) == (True, None)
    bad = [dict(r) for r in rows]
    bad[3]["data"] = '{"i":99}'
    assert verify_chain(bad) == (False, 4)
    assert verify_chain(rows[:2] + rows[3:]) == (False, 4)          # a deleted entry
    assert verify_chain(rows[1:]) == (False, 2)                      # a missing head
    swapped = rows[:2] + [rows[3], rows[2]] + rows[4:]
    assert verify_chain(swapped)[0] is False


def test_hall_server_audit_writer_uses_the_same_rule(tmp_path):
    """The hall's own writer (hall_server.exam.audit) must produce a chain we accept."""
    from hall_server.db.schema import open_db
    from hall_server.exam import audit
    db = open_db(tmp_path / "h.db")
    for i in range(5):
        audit.append(db.conn, 1693789200 + i, "chief", "act", sitting_id="S", ticket=None, data={"n": i, "名": "x"})
    rows = db.conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    assert verify_chain(rows) == (True, None)


# ---------------------------------------------------------------------- bundle

def test_bundle_is_deterministic_and_content_addressed(make_hall, public_keys):
    db, _ = make_hall("17")
    a = build_result_bundle(db)
    b = build_result_bundle(db)
    assert a == b
    p = verify_result_bundle(a, public_keys)
    assert p["bundle_id"] == bundle_id(a)
    # per sitting: also deterministic, smaller, same generation
    s1 = build_result_bundle(db, "D1S1-R01")
    assert s1 == build_result_bundle(db, "D1S1-R01") and len(s1) < len(a)
    ps = verify_result_bundle(s1, public_keys)
    assert ps["scope"] == "D1S1-R01" and ps["generation"] == p["generation"]
    assert {c["sitting_id"] for c in ps["candidates"]} == {"D1S1-R01"}
    with pytest.raises(KeyError):
        build_result_bundle(db, "NOPE")


def test_bundle_changes_when_data_changes(make_hall):
    db, _ = make_hall("17")
    a = build_result_bundle(db)
    c = sqlite3.connect(db)
    c.execute("UPDATE answers SET choice = 'E' WHERE q = 1")
    c.commit()
    c.close()
    assert build_result_bundle(db) != a


def test_bundle_contents(make_hall, public_keys):
    db, info = make_hall("17", n_candidates=8, questions=20, absent=2)
    p = verify_result_bundle(build_result_bundle(db), public_keys)
    assert p["format"] == "hall-result-bundle/1"
    assert p["site"]["site_no"] == "17" and p["site"]["district"] == "渝中区" and p["site"]["demo"] is True
    assert p["counts"] == {"candidates": 8, "attempts": 6, "submitted": 6, "absent": 2, "rescheduled": 0}
    a = p["attempts"][0]
    for k in ("opened_at", "deadline_at", "submitted_at", "submit_reason", "device_changes", "site_score", "answers"):
        assert k in a
    assert len(a["answers"]) == 20 and len(a["answers"][0]) == 4           # q, choice, seq, saved_at
    assert len(p["answer_log"]) >= 6 * 20
    assert any(e["kind"] == "takeover" for e in p["device_events"])
    assert {v["level"] for v in p["violations"]} == {"cheating", "minor"}
    assert len(p["absentees"]) == 2 and len(p["incidents"]) == 1 and len(p["time_adjustments"]) == 1
    assert sum(1 for a in p["attempts"] if a["status"] == "absent") == 1     # hall-marked 缺考 row kept
    rr = {r["sitting_id"]: r for r in p["room_records"]}
    assert sum(r["expected"] for r in rr.values()) == 8 and sum(r["present"] for r in rr.values()) == 6
    assert rr["D1S1-R01"]["other"] and rr["D1S1-R01"]["room"] == "第1考场"
    assert p["audit_head"] == {"id": p["generation"], "hash": p["audit_log"][-1]["hash"]}
    assert all("id_number" in c and "paper_hash" in c for c in p["candidates"])
    assert "key_json" not in json.dumps(p)                                   # never the answer key


def test_export_refuses_broken_local_chain(make_hall):
    db, _ = make_hall("17")
    c = sqlite3.connect(db)
    c.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    c.commit()
    c.close()
    with pytest.raises(RuntimeError, match="断裂"):
        build_result_bundle(db)


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory, site_keys):
    from factories import finished_site
    p = tmp_path_factory.mktemp("b") / "h.db"
    finished_site(p, "17", site_keys["17"][0], n_candidates=3, questions=5, absent=1)
    return build_result_bundle(p)


@pytest.mark.parametrize("cut", [0, 1, 100, -1, -2, "half"])
def test_truncated_bundle_is_refused(small_bundle, public_keys, cut):
    n = len(small_bundle) // 2 if cut == "half" else cut
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(small_bundle[:n], public_keys)
    assert e.value.code in ("malformed", "bad_format")
    assert e.value.message_zh


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_is_refused(small_bundle, public_keys, pos, bit):
    data = bytearray(small_bundle)
    i = int(pos * len(data))
    data[i] ^= 1 << bit
    with pytest.raises(BundleRejected):
        verify_result_bundle(bytes(data), public_keys)


def test_signed_with_another_sites_key(small_bundle, site_keys, public_keys):
    payload = json.loads(small_bundle)["payload"]
    forged = sign_payload(payload, site_keys["42"][0], "17")      # claims 17, signed by 42
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(forged, public_keys)
    assert e.value.code == "wrong_key" and e.value.extra["signed_by"] == "42"
    # a key nobody issued
    from factories import new_site_key
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(sign_payload(payload, new_site_key()[0], "17"), public_keys)
    assert e.value.code == "bad_signature"
    # a site the centre never issued a key to
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(small_bundle, {k: v for k, v in public_keys.items() if k != "17"})
    assert e.value.code == "unknown_site"


def test_broken_audit_chain_is_refused_even_if_signed(small_bundle, site_keys, public_keys):
    payload = json.loads(small_bundle)["payload"]
    payload["audit_log"][1]["action"] = "nothing_happened"
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(sign_payload(payload, site_keys["17"][0], "17"), public_keys)
    assert e.value.code == "bad_audit_chain" and e.value.extra["first_bad_id"] == 2
    payload = json.loads(small_bundle)["payload"]
    payload["generation"] += 5                       # claims to be newer than its chain
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(sign_payload(payload, site_keys["17"][0], "17"), public_keys)
    assert e.value.code == "inconsistent"


def test_non_canonical_bytes_are_refused(small_bundle, public_keys):
    env = json.loads(small_bundle)
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(json.dumps(env, ensure_ascii=False, indent=1).encode(), public_keys)
    assert e.value.code == "not_canonical"
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(b'{"format":"something-else"}', public_keys)
    assert e.value.code == "bad_format"


@pytest.mark.parametrize("mutate", [
    lambda p: p.__setitem__("site", ["17"]),
    lambda p: p.__setitem__("attempts", {"x": 1}),
    lambda p: p["attempts"][0].__setitem__("answers", [["1", "A", 1, 0.0]]),
    lambda p: p["attempts"][0].__setitem__("ticket", "not-a-candidate"),
    lambda p: p["candidates"].append(dict(p["candidates"][0])),
    lambda p: p.__setitem__("watermarks", {}),
])
def test_signed_but_malformed_payload_is_refused_cleanly(small_bundle, site_keys, public_keys, mutate):
    payload = json.loads(small_bundle)["payload"]
    mutate(payload)
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(sign_payload(payload, site_keys["17"][0], "17"), public_keys)
    assert e.value.code == "inconsistent"


@pytest.mark.parametrize("table", ["audit_log", "answer_log", "device_events", "violations", "incidents",
                                   "time_adjustments"])
def test_every_watermark_the_centre_compares_is_checked(small_bundle, site_keys, public_keys, table):
    """The centre orders a site's bundles by every watermark; a signed bundle without one
    (a hall bug, an old format) is refused as inconsistent, not compared as 0."""
    payload = json.loads(small_bundle)["payload"]
    del payload["watermarks"][table]
    with pytest.raises(BundleRejected) as e:
        verify_result_bundle(sign_payload(payload, site_keys["17"][0], "17"), public_keys)
    assert e.value.code == "inconsistent" and "watermarks" in e.value.message_zh
