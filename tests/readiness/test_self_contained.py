"""Issue 15 item 1: the repository alone is enough. A copy of the tracked files (what a
`git clone` gives, with nothing beside it) builds and serves the demo, a phone logs in, and
no tracked file reads a folder outside the repository."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests
import socketio

from hallproc import REPO, free_port

OUTSIDE = re.compile("|".join([re.escape("../" + "shared"), re.escape("/work" + "/"),
                               r'parent\s*/\s*"' + "shared" + '"', re.escape("shared" + "/data/")]))


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


def bare_copy(dest: Path) -> Path:
    """The tracked files, plus what `make setup` installs from npm (not in git by design)."""
    for rel in tracked_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    shutil.copytree(REPO / "static_client/vendor/node_modules", dest / "static_client/vendor/node_modules",
                    symlinks=True)
    return dest


def test_the_site_data_is_tracked_and_cites_its_source():
    files = tracked_files()
    for name in ("contracts/data/sites.csv", "contracts/data/district_offices.csv"):
        assert name in files
        head = (REPO / name).read_text(encoding="utf-8").splitlines()[:4]
        assert any("000_682d729caf8fcbab.txt" in line and line.startswith("#") for line in head), name
    from contracts.offices import load_offices, office_for_district
    from provisioning.sites import load_sites

    sites = load_sites()
    assert len(sites) == 343 and sites[0].name == "重庆市第十三人民医院"
    offices = load_offices()
    # every site reaches a district office with a phone number (the chief's checklist prints it)
    for s in sites:
        o = office_for_district(s.district, offices)
        assert o is not None and o.phones, s
    assert office_for_district("万盛区", offices).name == "万盛经开区"
    assert office_for_district("市直属", offices).phones == ("023-67070676", "13752952556")


def test_no_tracked_file_reads_outside_the_repository():
    hits = []
    for rel in tracked_files():
        if rel == "CHANGELOG.md":          # history may name what was removed
            continue
        try:
            text = (REPO / rel).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits += [f"{rel}:{i}: {line.strip()}" for i, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert hits == []


def test_a_bare_copy_builds_and_serves_the_demo(tmp_path):
    src = bare_copy(tmp_path / "hall")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hall"]      # nothing beside it
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env["PYTHONPATH"] = str(src)          # the copy's code, not the worktree's editable install
    where = subprocess.run([sys.executable, "-c", "import hall_server, provisioning; "
                            "print(hall_server.__file__); print(provisioning.__file__)"],
                           cwd=src, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(src) for p in where), where
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hall_server", "demo", "--data-dir", str(src / "var/demo"),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=src, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            assert proc.poll() is None, log.read_text(encoding="utf-8")[-3000:]
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise AssertionError("demo did not come up: " + log.read_text(encoding="utf-8")[-3000:])
        text = log.read_text(encoding="utf-8")
        assert "重庆市第十三人民医院" in text
        token = re.search(r"/r/(\S+)", text).group(1)
        first = (src / "var/demo/demo-candidates.txt").read_text(encoding="utf-8").splitlines()[1].split()
        phone = socketio.Client(reconnection=False)
        phone.connect(url, transports=["websocket"], wait_timeout=10)
        try:
            r = phone.call("login", {"token": token, "ticket": first[0], "id6": first[1], "device": "bare-1"},
                           timeout=10)
        finally:
            phone.disconnect()
        assert r["ok"], r
        assert r["candidate"]["site"] == "重庆市第十三人民医院"
    finally:
        proc.terminate()
        proc.wait(10)
