"""Issue 13: README walks a newcomer from `make demo` through a sitting, the USB export, the
county run and the centre's status page. This test runs the README's walkthrough block line by
line on a copy of the repository (so var/ of the working tree is never touched), with only
these substitutions: free ports instead of 8080/8700. The sitting in between is taken
the way people take it: the chief starts it and ends it over the console's socket, phones log
in, answer and are submitted. No output may hold a traceback."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import socketio

from hallproc import REPO, free_port

pytestmark = pytest.mark.slow


def readme_walkthrough() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- walkthrough:", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands, cur = [], ""
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).rstrip()
        if not line.strip():
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        commands.append((cur + line).strip())
        cur = ""
    return commands


def copy_repo(dest: Path) -> Path:
    dest.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    tar = subprocess.Popen(["tar", "-cf", "-", "-T", "-"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    untar = subprocess.Popen(["tar", "-xpf", "-", "-C", str(dest)], stdin=tar.stdout)
    tar.stdin.write("\n".join(f for f in files if f and (REPO / f).is_file()).encode())
    tar.stdin.close()
    assert untar.wait() == 0 and tar.wait() == 0
    (dest / ".venv").symlink_to(REPO / ".venv")                  # make's stamp keeps it from reinstalling
    (dest / "static_client/vendor/node_modules").symlink_to(REPO / "static_client/vendor/node_modules")
    return dest


class Background:
    """A README command that keeps running (a server), in its own process group."""

    def __init__(self, cmd: str, cwd: Path, env: dict, log: Path):
        self.log = log
        self.proc = subprocess.Popen(cmd, shell=True, cwd=cwd, env=env, stdout=open(log, "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            assert self.proc.poll() is None, self.text()[-3000:]
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in:\n{self.text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def run(cmd: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert r.returncode == 0, (cmd, r.stdout, r.stderr)
    return r


def login_photo(url: str, session: str, ticket: str) -> dict:
    """What the phone's camera button sends before the paper opens (docs/protocol.md "Camera")."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (240, 320), (180, 150, 130)).save(buf, "JPEG", quality=80)
    return requests.post(url + "/api/capture", data=buf.getvalue(), timeout=10, headers={
        "Authorization": "Bearer " + session, "Content-Type": "image/jpeg", "X-Capture-Id": "walk-login-" + ticket,
        "X-Capture-Slot": "0", "X-Capture-Source": "file"}).json()


def take_a_sitting(url: str, repo: Path, token: str) -> int:
    """The chief starts 第1考场 on the console's socket; three phones log in, answer and are
    submitted when the chief ends the sitting. Returns the answers saved."""
    http = requests.Session()
    r = http.post(url + "/console/login", data={"username": "chief", "password": "demo-chief"},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    staff = socketio.Client(reconnection=False)
    staff.connect(url, namespaces=["/staff"], transports=["websocket"], wait_timeout=10,
                  headers={"Cookie": "; ".join(f"{k}={v}" for k, v in http.cookies.items())})
    start = staff.call("start_sitting", {"sitting": "D1S1-R01"}, namespace="/staff", timeout=10)
    assert start["ok"], start                          # the demo's sittings are today: no date question
    lines = (repo / "var/demo/demo-candidates.txt").read_text(encoding="utf-8").splitlines()[1:]
    mine = [ln.split() for ln in lines if ln.split()[-1] == "第1考场"][:3]
    saved = 0
    phones = []
    for ticket, id6, *_ in mine:
        p = socketio.Client(reconnection=False)
        p.connect(url, transports=["websocket"], wait_timeout=10)
        phones.append(p)
        r = p.call("login", {"token": token, "ticket": ticket, "id6": id6, "device": "walk-" + ticket}, timeout=10)
        assert r["ok"], r
        assert p.call("confirm", {}, timeout=10)["ok"]
        assert login_photo(url, r["session"], ticket)["ok"]     # the camera's login photo (issue 16)
        assert p.call("open", {}, timeout=10)["ok"]
        for q, choice in enumerate("ABCDE", start=1):
            saved += p.call("answer", {"q": q, "choice": choice, "seq": q}, timeout=10)["ok"]
    end = staff.call("end_sitting", {"sitting": "D1S1-R01"}, namespace="/staff", timeout=10)
    assert end["ok"] and end["sitting"]["status"] == "ended", end
    for p in phones + [staff]:
        p.disconnect()
    return saved


def test_readme_walkthrough(tmp_path):
    commands = readme_walkthrough()
    kinds = [("demo" if c.startswith("make demo") else "export" if " sync " in c and "--export" in c else
              "centre" if "sync.central serve" in c else "county" if "county-run" in c else
              "passmark" if "set-pass-mark" in c else c) for c in commands]
    assert kinds == ["demo", "export", "centre", "county", "passmark"], commands
    repo = copy_repo(tmp_path / "repo")
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONUNBUFFERED": "1"}   # the copy's code, not this tree's
    hall_port, centre_port = free_port(), free_port()
    servers = []
    try:
        # make demo: the site, on a free port
        demo = Background(commands[0] + f' DEMO_ARGS="--port {hall_port} --host 127.0.0.1"', repo, env,
                          tmp_path / "demo.log")
        servers.append(demo)
        qr = demo.wait_for(r"http://\S+?/r/(\S+)")
        demo.wait_for(r"listening on")
        url = f"http://127.0.0.1:{hall_port}"
        assert "演示考生（准考证号" not in demo.text()           # the roster file's header is not a candidate
        assert "var/demo/centre" in demo.text()
        assert take_a_sitting(url, repo, qr.group(1)) == 15

        # the USB hand-over
        out = run(commands[1], repo, env)
        sha = re.search(r"sha256: ([0-9a-f]{64})", out.stdout).group(1)
        [bundle] = list((repo / "usb").glob("*.hallresult"))
        import hashlib
        assert hashlib.sha256(bundle.read_bytes()).hexdigest() == sha

        # the centre
        centre = Background(commands[2].replace("--port 8700", f"--port {centre_port}"), repo, env,
                            tmp_path / "centre.log")
        servers.append(centre)
        token = centre.wait_for(r"管理口令（首次启动时生成[^\n]*\n\s*(\S+)").group(1)
        centre_url = f"http://127.0.0.1:{centre_port}"
        end = time.time() + 30
        while time.time() < end:
            try:
                if requests.get(centre_url + "/api/health", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)

        # the county office
        county = run(commands[3].replace("127.0.0.1:8700", f"127.0.0.1:{centre_port}"), repo, env)
        assert "共 1 个成绩包：新接收 1" in county.stderr, county.stderr
        mark = run(commands[4], repo, env)
        assert "已设置合格分数线：临床 执业医师 60 分" in mark.stdout, mark.stdout

        # the centre's status page
        page = requests.get(centre_url + "/", params={"token": token}, timeout=10)
        assert page.status_code == 200 and "重庆市第十三人民医院" in page.text
        status = requests.get(centre_url + "/api/status", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        totals = status.json()["totals"]
        assert json.dumps(totals)                          # the numbers are there
        for s in servers:
            assert "Traceback" not in s.text(), s.text()[-3000:]
    finally:
        for s in servers:
            s.stop()
