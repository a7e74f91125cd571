"""Issue 15 item 2: `make dist` builds one file that installs hall with no network.

The artifact is built once per session (its wheelhouse is cached under build/). The install
runs inside `unshare --net --mount`: a network namespace with only loopback, where this
machine's local package mirrors and pip cache are hidden under empty tmpfs mounts and no
PIP_* variable is set, so the artifact is the only source. There, the installed `hall`
serves the demo and a phone answers one question."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from hallproc import REPO, free_port

RUNNER = Path(__file__).with_name("offline_install_run.py")
# Local package sources of this machine that pip could otherwise find without a network.
HIDE = ["/opt/wheels", "/opt/pypi", "/opt/pypi-more", str(Path.home() / ".cache" / "pip")]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    from release.build import build

    return build(tmp_path_factory.mktemp("dist"))


def members(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def test_artifact_holds_app_wheels_font_and_a_manifest(artifact):
    names = members(artifact)
    top = names[0].split("/")[0]
    assert top.startswith("hall-0.1.0-py311-")
    rel = {n[len(top) + 1:] for n in names if "/" in n}
    assert {"install.sh", "BUILD.json", "MANIFEST.sha256", "app/pyproject.toml",
            "app/provisioning/data/sites.csv",
            "app/static_client/vendor/node_modules/socket.io-client/dist/socket.io.min.js"} <= rel
    assert any(n.startswith("wheelhouse/eventlet-") for n in rel)
    assert any(n.startswith("wheelhouse/setuptools-") for n in rel) and any(n.startswith("wheelhouse/pip-") for n in rel)
    assert any(n.startswith("debs/fonts-wqy-microhei_") for n in rel)
    with tarfile.open(artifact) as tar:
        manifest = tar.extractfile(f"{top}/MANIFEST.sha256").read().decode()
        listed = {line.split("  ", 1)[1] for line in manifest.splitlines()}
        assert listed == rel - {"MANIFEST.sha256"}
        body = tar.extractfile(f"{top}/app/provisioning/data/sites.csv").read()
    assert f"{hashlib.sha256(body).hexdigest()}  app/provisioning/data/sites.csv" in manifest


def test_a_wheel_of_hall_carries_the_site_data(tmp_path, artifact):
    """An installed (non-editable) copy has the sites and offices: package-data."""
    with tarfile.open(artifact) as tar:
        tar.extractall(tmp_path, filter="tar")
    (root,) = tmp_path.iterdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--find-links",
                    str(root / "wheelhouse"), "-w", str(tmp_path / "w"), str(root / "app")],
                   check=True, env=env, timeout=300)
    (wheel,) = (tmp_path / "w").glob("hall-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "provisioning/data/sites.csv" in names and "provisioning/data/district_offices.csv" in names


def test_a_damaged_copy_is_refused_before_anything_is_installed(tmp_path, artifact):
    with tarfile.open(artifact) as tar:
        tar.extractall(tmp_path / "stick", filter="tar")
    (root,) = (tmp_path / "stick").iterdir()
    wheel = next((root / "wheelhouse").glob("flask-*.whl"))
    wheel.write_bytes(wheel.read_bytes()[:-100])          # a truncated copy on the USB stick
    r = subprocess.run([str(root / "install.sh"), "--prefix", str(tmp_path / "opt"), "--bin-dir", "",
                        "--config-dir", str(tmp_path / "etc")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "安装包文件不完整或已损坏" in r.stderr
    assert not (tmp_path / "opt").exists() and not (tmp_path / "etc").exists()


def test_missing_system_packages_are_named(tmp_path, artifact):
    """A Python other than the artifact's is refused with the package to install."""
    with tarfile.open(artifact) as tar:
        tar.extractall(tmp_path / "stick", filter="tar")
    (root,) = (tmp_path / "stick").iterdir()
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'Python 3.9.2'\nexit 1\n")
    fake.chmod(0o755)
    r = subprocess.run([str(root / "install.sh"), "--check", "--python", str(fake)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "python3 (需要 Python 3.11" in r.stderr and "apt-get install python3" in r.stderr


@pytest.mark.slow
def test_offline_install_serves_a_sitting_and_a_phone_answers(tmp_path, artifact):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a network namespace")
    hide = " ".join(f"[ -d {d} ] && mount -t tmpfs none {d};" for d in HIDE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    r = subprocess.run(["unshare", "--net", "--mount", "--", "bash", "-c",
                        f"ip link set lo up && {hide} exec \"$0\" \"$@\"",
                        sys.executable, str(RUNNER), str(artifact), str(tmp_path), str(free_port()), json.dumps(HIDE)],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    print("offline install:", {k: v for k, v in res.items() if k != "install_out"})
    assert res["interfaces"] == ["lo"] and res["hidden_empty"]   # no network, no local mirror
    assert res["install_rc"] == 0, res["install_out"]
    assert res["site"] and res["acks"] == [True] * 6, res
    assert res["answer_ack"]["seq"] == 1 and res["stored"] == ["B", 1]
    code, sites = res["installed_code"]
    assert code.startswith(str(tmp_path / "opt" / "app")) and sites.startswith(str(tmp_path / "opt" / "app"))
