"""Issue 15 item 5: 模拟演练. `hall rehearsal start` serves a practice sitting built from the
real site's rooms, roster and staff in a database of its own, with practice questions, the
same QR/login/answer/submit flow, 模拟演练 on every page and form; it never reaches a result
bundle, never touches the real database, and `hall rehearsal wipe` removes it."""
from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pdfplumber
import pytest
import requests
import socketio

from factories import make_plan
from hallproc import REPO, free_port
from hall_server.importer import import_plan


def sha(folder: Path) -> tuple[str, bytes]:
    """The database file's digest and its write-ahead log's content (reading it read-only may
    create an empty log and its index, as every reader of a WAL database does)."""
    wal = folder / "hall.db-wal"
    return hashlib.sha256((folder / "hall.db").read_bytes()).hexdigest(), wal.read_bytes() if wal.exists() else b""


def hall(cfg: Path, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hall_server", "--config", str(cfg), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def pdf_text(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as doc:
        return [re.sub(r"\s+", "", p.extract_text() or "") for p in doc.pages]


@pytest.fixture
def site(tmp_path):
    """A real site's laptop: an imported plan (its papers stamped 【测试题】), a config."""
    plan = make_plan(candidates_per_room=4, rooms=2, questions=20)
    data = tmp_path / "data"
    import_plan(data / "hall.db", plan)
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{data}"\n'
                   f'public_url = "http://127.0.0.1:{port}"\n'
                   f'[rehearsal]\nquestions = 5\nduration_minutes = 5\nearliest_submit_minutes = 0\n'
                   f'practice_candidates_per_room = 2\n'
                   f'[replica]\npath = "{tmp_path / "usb"}"\n'
                   '[proctor]\nlogin_capture_required = false\nface_worker = false\n', encoding="utf-8")
    return {"plan": plan, "data": data, "cfg": cfg, "url": f"http://127.0.0.1:{port}", "tmp": tmp_path}


def wait_up(url: str, proc, log: Path, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text(encoding="utf-8")[-3000:])
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("rehearsal did not come up: " + log.read_text(encoding="utf-8")[-3000:])


def test_rehearsal_runs_the_real_flow_marked_and_leaves_the_real_site_untouched(site):
    before = sha(site["data"])
    log = site["tmp"] / "rehearsal.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "hall_server", "--config", str(site["cfg"]), "rehearsal",
                                 "start"], cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    folder = site["data"] / "rehearsal"
    try:
        wait_up(site["url"], proc, log)
        text = log.read_text(encoding="utf-8")
        assert "模拟演练" in text
        token = re.search(r"/r/(\S+)", text).group(1)
        logins = (folder / "演练考生.txt").read_text(encoding="utf-8").splitlines()[1:]
        assert len(logins) == 4                                   # 2 rooms x 2 practice candidates
        practice_ticket, practice_id6 = logins[0].split()[:2]
        real = site["plan"]["candidates"][0]                      # a real candidate of room 1 may practise too

        # every phone page says so
        for path in ("/", f"/r/{token}"):
            page = requests.get(site["url"] + path, timeout=10).text
            assert "模拟演练" in page and 'class="rehearsal"' in page, path
        # the chief logs in with the real account; the console says so on every page
        chief = requests.Session()
        assert chief.post(site["url"] + "/console/login", data={"username": "chief", "password": "chief-pw"},
                          allow_redirects=False, timeout=10).status_code == 302
        home = chief.get(site["url"] + "/console/", timeout=60).text
        assert "模拟演练" in home and "rehearsal-no-export" in home and 'action="/console/export"' not in home
        r = chief.post(site["url"] + "/console/export", timeout=30)
        assert r.status_code == 409 and "不能导出" in r.text
        cookie = "; ".join(f"{k}={v}" for k, v in chief.cookies.items())
        staff = socketio.Client(reconnection=False)
        staff.connect(site["url"], namespaces=["/staff"], headers={"Cookie": cookie}, transports=["websocket"])
        assert staff.call("start_sitting", {"sitting": "YL-R01"}, namespace="/staff", timeout=10)["ok"]  # today: no date prompt
        staff.disconnect()

        for ticket, id6 in ((practice_ticket, practice_id6), (real["ticket"], real["id_number"][-6:])):
            phone = socketio.Client(reconnection=False)
            phone.connect(site["url"], transports=["websocket"])
            r = phone.call("login", {"token": token, "ticket": ticket, "id6": id6, "device": f"d-{ticket}"}, timeout=10)
            assert r["ok"], r
            assert r["candidate"]["rehearsal"] is True
            assert phone.call("confirm", {}, timeout=10)["ok"]
            assert phone.call("open", {}, timeout=10)["ok"]
            paper = requests.get(site["url"] + "/api/paper", headers={"Authorization": f"Bearer {r['session']}"},
                                 timeout=10).json()
            assert len(paper["questions"]) == 5
            assert all(q["stem"].startswith("【演练题】") for q in paper["questions"])
            a = phone.call("answer", {"q": 1, "choice": paper["questions"][0]["options"][0]["key"], "seq": 1},
                           timeout=10)
            assert a["ok"], a
            s = phone.call("submit", {"answers": {}}, timeout=10)
            assert s["ok"] and s["receipt"], s
            phone.disconnect()

        # every form says so, on every page
        for doc in ("poster", "sign-in", "room-record", "answer-cards"):
            pages = pdf_text(chief.get(f"{site['url']}/console/sitting/YL-R01/print/{doc}.pdf", timeout=60).content)
            assert pages and all("模拟演练" in p for p in pages), doc
        for doc in ("invigilator-guide", "candidate-notice", "chief-checklist"):
            pages = pdf_text(chief.get(f"{site['url']}/console/print/guide/{doc}.pdf", timeout=60).content)
            assert pages and all("模拟演练" in p for p in pages), doc
        assert all("模拟演练" in p for p in pdf_text(chief.get(site["url"] + "/console/print/site-report.pdf",
                                                                timeout=60).content))

        # never a result bundle; the rehearsal never wrote the exam's replica stick
        r = hall(site["cfg"], "sync", "--data-dir", str(folder), "--export", str(site["tmp"] / "stick"))
        assert r.returncode == 2 and "模拟演练" in r.stderr
        assert not (site["tmp"] / "usb").exists()
        # wiping while it runs is refused; stop ends the server
        r = hall(site["cfg"], "rehearsal", "wipe")
        assert r.returncode == 3 and "stop" in r.stderr
        r = hall(site["cfg"], "rehearsal", "stop")
        assert r.returncode == 0, r.stderr
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    r = hall(site["cfg"], "rehearsal", "wipe")
    assert r.returncode == 0 and not folder.exists(), r.stdout + r.stderr
    assert sha(site["data"]) == (before[0], b"")                # the real database: not one byte changed


def test_rehearsal_refusals(site):
    # no real site imported: nothing to rehearse with
    empty = site["tmp"] / "empty.toml"
    empty.write_text(site["cfg"].read_text(encoding="utf-8").replace(str(site["data"]), str(site["tmp"] / "none")),
                     encoding="utf-8")
    r = hall(empty, "rehearsal", "start")
    assert r.returncode == 2 and "hall import" in r.stderr
    # the real service holds the port: stop it first
    import socket

    port = int(site["url"].rsplit(":", 1)[1])
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen(1)
    try:
        r = hall(site["cfg"], "rehearsal", "start")
        assert r.returncode == 3 and "systemctl stop hall" in r.stderr
    finally:
        s.close()
    # wipe never deletes a database that is not a rehearsal's
    folder = site["data"] / "rehearsal"
    folder.mkdir()
    import_plan(folder / "hall.db", make_plan(seed=9))
    r = hall(site["cfg"], "rehearsal", "wipe")
    assert r.returncode == 2 and (folder / "hall.db").exists()
