"""How long from a fresh laptop to a phone answering in a rehearsal (issue 15 item 5; target
15 minutes; docs/rehearsal.md).

    python -m bench.fresh_to_rehearsal [--artifact build/dist/hall-….tar.gz] [--out bench/results/fresh_to_rehearsal.md]

What a county office's USB stick holds: the `make dist` artifact, the site bundle
(`python -m provisioning demo`: sealed like a real one, with its activation code and staff
sheet) and the city office's public key. Inside `unshare --net --mount` (no network, this
machine's package mirrors hidden: root), the runner does what the staff would type, and
times each step: copy the artifact from the stick, unpack, install.sh, hall import, hall
doctor, hall rehearsal start, the chief logs into the console and starts room 1, a phone
opens the room's QR address, logs in as a practice candidate, confirms, opens the paper
and gets its first answer acknowledged. The staff's own time (reading, typing, scanning)
is not machine time; docs/rehearsal.md adds an estimate per step.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HIDE = ["/opt/wheels", "/opt/pypi", "/opt/pypi-more", str(Path.home() / ".cache" / "pip")]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# -- inside the namespace ------------------------------------------------------------------

def inside(stick: Path, work: Path, port: int) -> dict:
    import requests
    import socketio

    steps: dict[str, float] = {}
    out: dict = {"interfaces": sorted(n for _, n in socket.if_nameindex()), "steps": steps}

    def step(name):
        class T:
            def __enter__(self):
                self.t = time.monotonic()

            def __exit__(self, *exc):
                steps[name] = round(time.monotonic() - self.t, 2)
        return T()

    def run(*cmd, **kw):
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, cwd=work, **kw)
        if r.returncode:
            raise RuntimeError(f"{cmd[:3]} -> {r.returncode}: {(r.stdout + r.stderr)[-2000:]}")
        return r

    artifact = next(stick.glob("hall-*.tar.gz"))
    with step("copy the artifact from the stick"):
        shutil.copy(artifact, work / artifact.name)
        os.sync()
    with step("unpack"):
        with tarfile.open(work / artifact.name) as tar:
            tar.extractall(work, filter="tar")
    root = next(p for p in work.iterdir() if p.is_dir() and p.name.startswith("hall-"))
    with step("install.sh"):
        run(root / "install.sh", "--prefix", work / "opt", "--bin-dir", work / "bin", "--config-dir", work / "etc",
            "--python", "/usr/bin/python3")
    hall = work / "bin" / "hall"
    cfg = work / "etc" / "config.toml"
    cfg.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{work / "data"}"\n'
                   f'public_url = "http://127.0.0.1:{port}"\n'
                   # the login photo is timed by bench/proctor.py; here the rest of the flow
                   '[proctor]\nlogin_capture_required = false\nface_worker = false\n', encoding="utf-8")
    bundle = next(stick.glob("*.hallbundle"))
    activation = re.search(r"激活码\s*(\S+)", (stick / "activation.txt").read_text(encoding="utf-8")).group(1)
    with step("hall import (verify the signed bundle)"):
        run(hall, "--config", cfg, "import", bundle, "--central-key", stick / "central_ed25519.pub",
            "--site-no", "1", "--activation-code", activation)
    with step("hall doctor"):
        subprocess.run([str(hall), "--config", str(cfg), "doctor"], capture_output=True, timeout=300, cwd=work)
    url = f"http://127.0.0.1:{port}"
    log = work / "rehearsal.log"
    proc = subprocess.Popen([str(hall), "--config", str(cfg), "rehearsal", "start"], cwd=work,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        with step("hall rehearsal start (build it, serve)"):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(log.read_text(encoding="utf-8")[-2000:])
                try:
                    if requests.get(url + "/healthz", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
        text = log.read_text(encoding="utf-8")
        token = re.search(r"/r/(\S+)", text).group(1)
        ticket, id6 = (work / "data" / "rehearsal" / "演练考生.txt").read_text(encoding="utf-8").splitlines()[1].split()[:2]
        chief_pw = re.search(r"^chief\s+\S+\s+(\S+)", (stick / "accounts.txt").read_text(encoding="utf-8"), re.M).group(1)
        with step("console: chief logs in, starts room 1"):
            s = requests.Session()
            assert s.post(url + "/console/login", data={"username": "chief", "password": chief_pw},
                          allow_redirects=False, timeout=30).status_code == 302
            s.get(url + "/console/", timeout=60)
            console = socketio.Client(reconnection=False)
            console.connect(url, namespaces=["/staff"], transports=["websocket"],
                            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in s.cookies.items())})
            assert console.call("start_sitting", {"sitting": "YL-R01"}, namespace="/staff", timeout=30)["ok"]
            console.disconnect()
        with step("phone: QR page, login, confirm, open, paper, first answer saved"):
            for path in (f"/r/{token}", "/static/client/app.js", "/static/client/app.css", "/vendor/socket.io.min.js"):
                assert requests.get(url + path, timeout=30).ok
            phone = socketio.Client(reconnection=False)
            phone.connect(url, transports=["websocket"])
            r = phone.call("login", {"token": token, "ticket": ticket, "id6": id6, "device": "fresh-1"}, timeout=30)
            assert r["ok"], r
            assert phone.call("confirm", {}, timeout=30)["ok"] and phone.call("open", {}, timeout=30)["ok"]
            paper = requests.get(url + "/api/paper", headers={"Authorization": f"Bearer {r['session']}"}, timeout=30).json()
            a = phone.call("answer", {"q": 1, "choice": paper["questions"][0]["options"][0]["key"], "seq": 1}, timeout=30)
            assert a["ok"], a
            phone.disconnect()
        out["answer_ack"] = a
    finally:
        proc.terminate()
        proc.wait(15)
    out["machine_s"] = round(sum(steps.values()), 1)
    return out


# -- outside -------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifact", help="the make dist tarball (default: build it)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "fresh_to_rehearsal.md"))
    ap.add_argument("--inside", nargs=3, metavar=("STICK", "WORK", "PORT"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.inside:
        print(json.dumps(inside(Path(a.inside[0]), Path(a.inside[1]), int(a.inside[2])), ensure_ascii=False))
        return 0
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("needs root and unshare(1): the laptop is simulated in a namespace without network", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hall-fresh-") as td:
        td = Path(td)
        stick = td / "usb-stick"
        stick.mkdir()
        if a.artifact:
            artifact = Path(a.artifact)
        else:
            from release.build import build

            artifact = build(td / "dist")
        shutil.copy(artifact, stick / artifact.name)
        demo = subprocess.run([sys.executable, "-m", "provisioning", "demo", "--out", str(td / "office")],
                              cwd=REPO, capture_output=True, text=True, check=True)
        shutil.copy(next((td / "office").glob("*.hallbundle")), stick)
        shutil.copy(td / "office" / "keys" / "central_ed25519.pub", stick)
        (stick / "activation.txt").write_text(demo.stdout, encoding="utf-8")
        shutil.copy(next((td / "office").glob("*_账号.txt")), stick / "accounts.txt")
        work = td / "laptop"
        work.mkdir()
        hide = " ".join(f"[ -d {d} ] && mount -t tmpfs none {d};" for d in HIDE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        t0 = time.monotonic()
        r = subprocess.run(["unshare", "--net", "--mount", "--", "bash", "-c",
                            f"ip link set lo up && {hide} exec \"$0\" \"$@\"", sys.executable, "-m",
                            "bench.fresh_to_rehearsal", "--inside", str(stick), str(work), str(free_port())],
                           cwd=REPO, capture_output=True, text=True, timeout=1800, env=env)
        wall = time.monotonic() - t0
    if r.returncode:
        print(r.stdout + r.stderr, file=sys.stderr)
        return 1
    res = json.loads(r.stdout.strip().splitlines()[-1])
    rows = [f"| {k} | {v:.1f} |" for k, v in res["steps"].items()]
    md = "\n".join([f"Fresh laptop to a phone answering in a rehearsal, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                    f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; no network inside (interfaces: "
                    f"{', '.join(res['interfaces'])}); artifact {artifact.name}", "",
                    "| step (machine time) | seconds |", "|---|---|", *rows,
                    f"| **total machine time** | **{res['machine_s']:.1f}** |", ""])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
