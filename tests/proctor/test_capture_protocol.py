"""Camera proctoring over the real server: the login photo gates the paper, uploads are
durable and idempotent, hostile uploads change nothing (issue 16)."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proctorkit import astronaut_face, capture_id, jpeg, logged_in_phone, phall, upload  # noqa: E402,F401


def rows(hall, sql, *args):
    with hall.db() as db:
        return [dict(r) for r in db.execute(sql, args)]


def test_login_photo_is_required_before_the_paper_opens(phall):
    hall = phall
    phone, c = logged_in_phone(hall)
    hall.start_sitting(c["sitting_id"])
    r = phone.call("open")
    assert not r["ok"] and r["error"]["code"] == "capture_required", r
    assert "拍" in r["error"]["message"]
    sync = phone.call("sync")
    assert sync["state"]["camera"]["login"] == "needed"
    data = jpeg(astronaut_face())
    up = upload(hall, phone.session, data, slot=0)
    assert up.status_code == 200, up.text
    body = up.json()
    assert body["ok"] and body["result"] == "stored" and body["state"]["camera"]["login"] == "ok"
    sha = hashlib.sha256(data).hexdigest()
    assert body["capture"]["sha256"] == sha
    # durable before the ack: the row and the content-addressed file are there
    row = rows(hall, "SELECT * FROM captures WHERE ticket = ?", c["ticket"])
    assert len(row) == 1 and row[0]["sha256"] == sha and row[0]["status"] == "ok"
    f = hall.data_dir / "photos" / sha[:2] / f"{sha}.jpg"
    assert f.read_bytes() == data
    assert rows(hall, "SELECT action FROM audit_log WHERE action = 'capture'")
    r = phone.call("open")
    assert r["ok"], r
    phone.close()


def test_replayed_capture_id_is_idempotent_and_never_overwrites(phall):
    hall = phall
    phone, c = logged_in_phone(hall)
    cid = capture_id()
    first = jpeg(astronaut_face())
    assert upload(hall, phone.session, first, cid=cid).json()["result"] == "stored"
    again = upload(hall, phone.session, first, cid=cid)
    assert again.status_code == 200 and again.json()["result"] == "already_stored"
    other = jpeg(astronaut_face().rotate(10))
    r = upload(hall, phone.session, other, cid=cid)
    assert r.status_code == 409 and r.json()["error"]["code"] == "capture_conflict"
    assert [x["sha256"] for x in rows(hall, "SELECT sha256 FROM captures")] == [hashlib.sha256(first).hexdigest()]
    phone.close()


@pytest.mark.parametrize("case", ["10MB", "not_image", "png", "huge_pixels", "truncated", "no_session",
                                  "other_candidates_id", "bad_slot", "bad_id"])
def test_hostile_uploads_are_refused_and_change_nothing(phall, case):
    hall = phall
    phone, c = logged_in_phone(hall)
    other, oc = logged_in_phone(hall, 1)
    taken = capture_id()
    assert upload(hall, other.session, jpeg(astronaut_face()), cid=taken).status_code == 200
    before = rows(hall, "SELECT * FROM captures ORDER BY capture_id")
    audit_before = rows(hall, "SELECT COUNT(*) n FROM audit_log")[0]["n"]
    files_before = sorted(p.name for p in (hall.data_dir / "photos").rglob("*"))
    good = jpeg(astronaut_face())
    if case == "10MB":
        r = upload(hall, phone.session, b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024))
        assert r.status_code == 413
    elif case == "not_image":
        r = upload(hall, phone.session, b"\xff\xd8\xff<html>not a photo</html>" * 10)
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_photo"
    elif case == "png":
        import io

        buf = io.BytesIO()
        astronaut_face().save(buf, "PNG")
        r = upload(hall, phone.session, buf.getvalue()[:60000])
        assert r.status_code in (413, 422)
    elif case == "huge_pixels":
        from PIL import Image

        r = upload(hall, phone.session, jpeg(Image.new("RGB", (1600, 1200)), side=1600, quality=30))
        assert r.status_code == 422 and r.json()["error"]["reason"] == "bad_size"
    elif case == "truncated":
        r = upload(hall, phone.session, good[: len(good) // 2])
        assert r.status_code == 422
    elif case == "no_session":
        r = upload(hall, "forged-session", good)
        assert r.status_code == 401
    elif case == "other_candidates_id":
        # another candidate's capture id, with this phone's session: refused, not overwritten
        r = upload(hall, phone.session, good, cid=taken)
        assert r.status_code == 409 and r.json()["error"]["code"] == "capture_conflict"
    elif case == "bad_slot":
        r = upload(hall, phone.session, good, slot=99)
        assert r.status_code == 400
    elif case == "bad_id":
        r = upload(hall, phone.session, good, cid="../../etc")
        assert r.status_code == 400
    body = r.json()
    assert body["ok"] is False and body["error"]["message"]
    assert rows(hall, "SELECT * FROM captures ORDER BY capture_id") == before
    assert rows(hall, "SELECT COUNT(*) n FROM audit_log")[0]["n"] == audit_before
    assert sorted(p.name for p in (hall.data_dir / "photos").rglob("*")) == files_before
    phone.close()
    other.close()


def test_a_phone_cannot_read_any_photo(phall):
    hall = phall
    phone, c = logged_in_phone(hall)
    cid = capture_id()
    upload(hall, phone.session, jpeg(astronaut_face()), cid=cid)
    import requests

    for path in (f"/console/photos/capture/{cid}.jpg", f"/console/photos/list/{c['ticket']}"):
        r = requests.get(hall.url + path, headers={"Authorization": f"Bearer {phone.session}"}, timeout=10)
        assert r.status_code in (302, 403) and not r.content.startswith(b"\xff\xd8")
    phone.close()


def test_the_same_photo_from_many_phones_at_once_is_stored_once_intact(phall):
    """Found by bench/proctor.py: two uploads of the same file at the same moment shared a
    temporary name; one got `storage` (503) and the stored file could mix both writes."""
    import threading

    hall = phall
    phones = [logged_in_phone(hall, i)[0] for i in range(8)]
    data = jpeg(astronaut_face(), quality=90)
    codes = []

    def go(p):
        for _ in range(6):
            codes.append(upload(hall, p.session, data, slot=0).status_code)
    threads = [threading.Thread(target=go, args=(p,)) for p in phones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == [200] * 48, codes
    sha = hashlib.sha256(data).hexdigest()
    assert hashlib.sha256((hall.data_dir / "photos" / sha[:2] / f"{sha}.jpg").read_bytes()).hexdigest() == sha
    assert not list((hall.data_dir / "photos").rglob("*.tmp"))
    for p in phones:
        p.close()
