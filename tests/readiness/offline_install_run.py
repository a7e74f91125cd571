"""Run inside a network namespace with no network (see test_dist.py): install the artifact
with its own install.sh, serve the demo from the installed copy, start a sitting as the
chief and answer one question from a phone (python-socketio). Prints one JSON line."""
from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import requests
import socketio


def login_photo(url: str, session: str) -> dict:
    """What the phone's camera button sends before the paper opens (docs/protocol.md "Camera")."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (240, 320), (180, 150, 130)).save(buf, "JPEG", quality=80)
    return requests.post(url + "/api/capture", data=buf.getvalue(), timeout=10, headers={
        "Authorization": "Bearer " + session, "Content-Type": "image/jpeg", "X-Capture-Id": "offline-login-1",
        "X-Capture-Slot": "0", "X-Capture-Source": "file"}).json()


def main(artifact: str, work: str, port: int, hidden: list[str]) -> dict:
    work_dir = Path(work)
    out: dict = {"interfaces": sorted(name for _, name in socket.if_nameindex()),
                 "hidden_empty": all(not Path(d).exists() or not any(Path(d).iterdir()) for d in hidden)}
    with tarfile.open(artifact) as tar:
        tar.extractall(work_dir / "stick", filter="tar")
    (root,) = (work_dir / "stick").iterdir()
    t0 = time.monotonic()
    inst = subprocess.run([str(root / "install.sh"), "--prefix", str(work_dir / "opt"), "--bin-dir", str(work_dir / "bin"),
                           "--config-dir", str(work_dir / "etc"), "--python", "/usr/bin/python3"],
                          capture_output=True, text=True, timeout=600)
    out |= {"install_rc": inst.returncode, "install_s": round(time.monotonic() - t0, 1),
            "install_out": (inst.stdout + inst.stderr)[-3000:]}
    if inst.returncode != 0:
        return out
    hall = work_dir / "bin" / "hall"
    log = work_dir / "demo.log"
    data = work_dir / "demo"
    with open(log, "wb") as f:
        proc = subprocess.Popen([str(hall), "demo", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
                                cwd=work_dir, stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                out["serve_log"] = log.read_text(encoding="utf-8")[-3000:]
                return out
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        text = log.read_text(encoding="utf-8")
        out["site"] = "重庆市第十三人民医院" in text
        token = re.search(r"/r/(\S+)", text).group(1)
        ticket, id6 = (data / "demo-candidates.txt").read_text(encoding="utf-8").splitlines()[1].split()[:2]
        sid = sqlite3.connect(data / "hall.db").execute(
            "SELECT sitting_id FROM candidates WHERE ticket = ?", (ticket,)).fetchone()[0]
        staff = requests.Session()
        assert staff.post(url + "/console/login", data={"username": "chief", "password": "demo-chief"},
                          allow_redirects=False, timeout=10).status_code == 302
        console = socketio.Client(reconnection=False)
        console.connect(url, namespaces=["/staff"], transports=["websocket"], wait_timeout=10,
                        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in staff.cookies.items())})
        phone = socketio.Client(reconnection=False)
        phone.connect(url, transports=["websocket"], wait_timeout=10)
        acks = [phone.call("login", {"token": token, "ticket": ticket, "id6": id6, "device": "offline-1"}, timeout=10),
                phone.call("confirm", {}, timeout=10)]
        acks.append(login_photo(url, acks[0].get("session", "")))   # the camera's login photo (issue 16)
        acks += [console.call("start_sitting", {"sitting": sid}, namespace="/staff", timeout=10),
                phone.call("open", {}, timeout=10),
                phone.call("answer", {"q": 1, "choice": "B", "seq": 1}, timeout=10)]
        phone.disconnect()
        console.disconnect()
        out["acks"] = [bool(a.get("ok")) for a in acks]
        out["answer_ack"] = acks[-1]
        row = sqlite3.connect(data / "hall.db").execute(
            "SELECT choice, seq FROM answers WHERE ticket = ? AND q = 1", (ticket,)).fetchone()
        out["stored"] = list(row) if row else None
        out["installed_code"] = subprocess.run(
            [str(work_dir / "opt/venv/bin/python"), "-c", "import hall_server, provisioning.packaged as p; "
             "print(hall_server.__file__); print(p.SITES_CSV)"], cwd=work_dir, capture_output=True, text=True).stdout.split()
    finally:
        proc.terminate()
        proc.wait(15)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])), ensure_ascii=False))
