"""The console is staff-only: login required, loopback/allowlist only, room-scoped."""
import pytest
import requests
import socketio

from hallproc import HallProcess, Phone


def test_console_requires_login(hall):
    r = requests.get(hall.url + "/console/", allow_redirects=False)
    assert r.status_code == 302 and "/console/login" in r.headers["Location"]
    r = requests.post(hall.url + "/console/login", data={"username": "chief", "password": "wrong"})
    assert r.status_code == 401 and "用户名或密码不正确" in r.text
    s = hall.staff_session()
    assert "第1考场" in s.get(hall.url + "/console/").text
    page = s.get(hall.url + "/console/sitting/D1S1-R01")
    assert page.status_code == 200 and "宣布开考" in page.text
    qr = s.get(hall.url + "/console/sitting/D1S1-R01/qr.png")
    assert qr.headers["Content-Type"] == "image/png"


def test_console_qr_decodes_to_a_working_login_url(hall, plan):
    import io

    import zxingcpp
    from PIL import Image

    s = hall.staff_session()
    png = s.get(hall.url + "/console/sitting/D1S1-R01/qr.png").content
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(codes) == 1
    url = codes[0].text
    assert url.startswith(hall.url + "/r/")
    assert requests.get(url).status_code == 200
    c = plan["candidates"][0]
    p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
    r = p.login(c["sitting_id"], token=url.rsplit("/", 1)[1])
    assert r["ok"] and r["candidate"]["room"] == "第1考场"


def test_invigilator_sees_only_their_room(hall):
    s = hall.staff_session("r01", "r01-pw")
    assert s.get(hall.url + "/console/sitting/D1S1-R01").status_code == 200
    assert s.get(hall.url + "/console/sitting/D1S1-R02").status_code == 403
    sio = hall.staff_socket("r01", "r01-pw")
    try:
        r = sio.call("start_sitting", {"sitting": "D1S1-R02"}, namespace="/staff", timeout=5)
        assert r["error"]["code"] == "forbidden"
        assert sio.call("watch", {"sitting": "D1S1-R01"}, namespace="/staff", timeout=5)["ok"]
    finally:
        sio.disconnect()
    with hall.db() as db:
        assert db.execute("SELECT status FROM sittings WHERE sitting_id='D1S1-R02'").fetchone()[0] == "planned"


def test_staff_namespace_refused_without_login(hall):
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(hall.url, namespaces=["/staff"], transports=["websocket"], wait_timeout=5)
    # A candidate's socket cannot reach staff events on its own namespace either.
    phone = socketio.Client(reconnection=False)
    phone.connect(hall.url, transports=["websocket"], wait_timeout=5)
    try:
        with pytest.raises(socketio.exceptions.TimeoutError):
            phone.call("start_sitting", {"sitting": "D1S1-R01"}, timeout=1)
    finally:
        phone.disconnect()
    with hall.db() as db:
        assert db.execute("SELECT COUNT(*) FROM sittings WHERE status != 'planned'").fetchone()[0] == 0


def test_console_refused_from_addresses_outside_the_allowlist(tmp_path, plan):
    h = HallProcess(tmp_path / "h", plan, config_extra='[security]\nstaff_allowlist = ["10.99.0.0/16"]\n').start()
    try:
        r = requests.get(h.url + "/console/login")
        assert r.status_code == 403 and "staff_allowlist" in r.text
        r = requests.post(h.url + "/console/login", data={"username": "chief", "password": "chief-pw"})
        assert r.status_code == 403
    finally:
        h.stop()


def test_staff_added_on_the_laptop_can_log_in_without_restart(hall):
    import subprocess
    import sys

    from hallproc import REPO

    cmd = [sys.executable, "-m", "hall_server", "--config", str(hall.config_path), "staff", "add", "wang",
           "--role", "invigilator", "--room", "R02", "--name", "王老师", "--password-stdin"]
    r = subprocess.run(cmd, input="short\n", capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and "8" in r.stderr
    r = subprocess.run(cmd, input="wang-secret-1\n", capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    s = hall.staff_session("wang", "wang-secret-1")
    assert s.get(hall.url + "/console/sitting/D1S1-R02").status_code == 200
    assert s.get(hall.url + "/console/sitting/D1S1-R01").status_code == 403


def test_paper_is_served_gzipped_once_per_version(hall, plan):
    c = plan["candidates"][0]
    p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
    assert p.login(c["sitting_id"])["ok"] and p.call("confirm")["ok"]
    hall.start_sitting(c["sitting_id"])
    assert p.call("open")["ok"]
    r = requests.get(hall.url + "/api/paper", headers={"Authorization": f"Bearer {p.session}",
                                                       "Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and len(r.json()["questions"]) == 10


def test_rotating_qr_old_codes_expire_after_grace(tmp_path, plan):
    import time as _t

    h = HallProcess(tmp_path / "h", plan,
                    config_extra='[security]\nqr_rotate_seconds = 1\nqr_grace_seconds = 1\n').start()
    try:
        page = h.staff_session().get(h.url + "/console/sitting/D1S1-R01").text
        assert 'data-qr-refresh="1"' in page
        c = plan["candidates"][0]
        old = h.qr_token(c["sitting_id"], issued_at=int(_t.time()) - 5)
        p = Phone(h, c["ticket"], c["id_number"][-6:]).connect()
        assert p.login(c["sitting_id"], token=old)["error"]["code"] == "token_expired"
        assert p.login(c["sitting_id"])["ok"]  # a code shown just now works
    finally:
        h.stop()
