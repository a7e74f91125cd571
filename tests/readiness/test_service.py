"""Issue 15 item 3: `hall install-service` writes a systemd unit that starts at boot, runs as
an unprivileged user, logs to journald, has an open-file limit sized from max_connections,
and restarts hall after a crash; phones reconnect and lose nothing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hall_server.net.listen import FD_HEADROOM
from hall_server.service_unit import (UNIT_NAME, UnitSettings, install, parse_unit, render_unit, uninstall,
                                      verify_unit)
from hallproc import REPO, HallProcess, wait_healthy
from unit_supervisor import UnitSupervisor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from factories import fast_plan  # noqa: E402
from faultkit import AppPhone, acked_lost, setup_answering  # noqa: E402

HALL = str(Path(sys.executable).parent / "hall")


def settings(tmp_path, **kw) -> UnitSettings:
    args = dict(exec_start=[HALL, "--config", str(tmp_path / "config.toml"), "serve"], user="hall",
                data_dir=tmp_path / "data", max_connections=4096, port=8080)
    return UnitSettings(**(args | kw))


@pytest.mark.parametrize("max_connections", [1024, 4096, 10000])
def test_unit_text(tmp_path, max_connections):
    unit = parse_unit(render_unit(settings(tmp_path, max_connections=max_connections)))
    svc = unit["Service"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"                  # start at boot
    assert unit["Unit"]["After"] == "network-online.target" == unit["Unit"]["Wants"]   # LAN address known
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"                          # never give up
    assert svc["Restart"] == "on-failure" and float(svc["RestartSec"]) <= 2
    assert svc["RestartPreventExitStatus"] == "2 3"                              # bad config / port taken
    assert svc["User"] == "hall"                                                 # not root
    assert svc["StandardOutput"] == svc["StandardError"] == "journal"
    assert int(svc["LimitNOFILE"]) == max_connections + FD_HEADROOM
    assert svc["ExecStart"].split() == [HALL, "--config", str(tmp_path / "config.toml"), "serve"]
    assert svc["WorkingDirectory"] == str(tmp_path / "data")
    assert "AmbientCapabilities" not in svc
    low = parse_unit(render_unit(settings(tmp_path, port=80)))["Service"]
    assert low["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"


def test_systemd_analyze_verifies_the_unit_and_catches_a_bad_one(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze missing: make system-deps installs the Debian package systemd")
    good = tmp_path / UNIT_NAME
    good.write_text(render_unit(settings(tmp_path)), encoding="utf-8")
    ok, out = verify_unit(good)
    assert ok, out
    bad = tmp_path / "bad" / UNIT_NAME
    bad.parent.mkdir()
    bad.write_text(render_unit(settings(tmp_path)).replace("Restart=on-failure", "Restart=sometimes"), encoding="utf-8")
    assert verify_unit(bad)[0] is False
    missing = tmp_path / "missing" / UNIT_NAME
    missing.parent.mkdir()
    missing.write_text(render_unit(settings(tmp_path, exec_start=["/nonexistent/hall", "serve"])), encoding="utf-8")
    assert verify_unit(missing)[0] is False


class FakeSystem:
    """Records the commands install/uninstall run; the user does not exist yet."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, cmd, **kw):
        self.calls.append(list(cmd))
        if cmd[0].endswith("systemd-analyze"):
            return subprocess.run(cmd, **kw)
        return subprocess.CompletedProcess(cmd, 2 if cmd[0] == "getent" else 0, "", "")


def test_install_creates_the_user_writes_enables_and_starts(tmp_path):
    fake = FakeSystem()
    s = settings(tmp_path)
    done = install(s, tmp_path / "config.toml", unit_dir=tmp_path / "units", run=fake, running=True)
    names = [c[0] for c in fake.calls]
    assert fake.calls[1][:2] == ["useradd", "--system"] and "/usr/sbin/nologin" in fake.calls[1]
    assert ["chown", "-R", "hall:", str(s.data_dir)] in fake.calls
    assert ["systemctl", "daemon-reload"] in fake.calls
    assert ["systemctl", "enable", "--now", UNIT_NAME] in fake.calls
    assert names.index("systemctl") > names.index("useradd")
    assert (tmp_path / "units" / UNIT_NAME).read_text(encoding="utf-8") == render_unit(s)
    assert any("开机自动运行" in line for line in done)
    (s.data_dir / "hall.db").write_bytes(b"results")
    fake.calls.clear()
    done = uninstall(tmp_path / "units", run=fake, running=True)
    assert ["systemctl", "disable", "--now", UNIT_NAME] in fake.calls
    assert not (tmp_path / "units" / UNIT_NAME).exists()
    assert (s.data_dir / "hall.db").read_bytes() == b"results"                   # data is never deleted
    assert any("保留" in line for line in done)


def test_install_refuses_a_unit_that_does_not_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze missing: make system-deps installs the Debian package systemd")
    fake = FakeSystem()
    with pytest.raises(RuntimeError, match="服务文件检查未通过"):
        install(settings(tmp_path, exec_start=["/nonexistent/hall", "serve"]), tmp_path / "c.toml",
                unit_dir=tmp_path / "units", run=fake, running=True)
    assert not any(c[0] == "systemctl" for c in fake.calls)


def test_cli_install_service_needs_a_config_and_writes_the_unit(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\nmax_connections = 2000\n', encoding="utf-8")
    base = [sys.executable, "-m", "hall_server"]
    r = subprocess.run([*base, "install-service", "--unit-dir", str(tmp_path / "u")], capture_output=True,
                       text=True, cwd=REPO)
    assert r.returncode == 2 and "--config" in r.stderr
    if os.geteuid() != 0:
        pytest.skip("chown of the data dir needs root")
    r = subprocess.run([*base, "--config", str(cfg), "install-service", "--unit-dir", str(tmp_path / "u"),
                        "--user", "daemon"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    svc = parse_unit((tmp_path / "u" / UNIT_NAME).read_text(encoding="utf-8"))["Service"]
    assert svc["User"] == "daemon" and svc["LimitNOFILE"] == str(2000 + FD_HEADROOM)
    assert svc["ExecStart"].endswith(f"--config {cfg} serve") and Path(svc["ExecStart"].split()[0]).is_absolute()
    assert (tmp_path / "data").stat().st_uid != 0
    r = subprocess.run([*base, "uninstall-service", "--unit-dir", str(tmp_path / "u")], capture_output=True,
                       text=True, cwd=REPO)
    assert r.returncode == 0 and not (tmp_path / "u" / UNIT_NAME).exists() and (tmp_path / "data").is_dir()


@pytest.mark.slow
def test_restart_policy_brings_hall_back_and_phones_lose_nothing(tmp_path):
    """The unit as install-service writes it, run by a stand-in for systemd: SIGKILL the main
    process twice mid-exam; it is restarted per Restart=/RestartSec=, every phone reconnects
    and resends, and no acknowledged answer is missing."""
    plan = fast_plan(candidates_per_room=6, duration_minutes=60)
    hall = HallProcess(tmp_path / "h", plan)            # writes config.toml and imports the plan
    unit = render_unit(UnitSettings(exec_start=[HALL, "--config", str(hall.config_path), "serve"], user="hall",
                                    data_dir=hall.data_dir, max_connections=4096, port=hall.port))
    sup = UnitSupervisor(unit, hall.log).start()
    phones = []
    try:
        wait_healthy(hall.url, 30)
        cands = setup_answering(hall, plan, plan["candidates"])
        phones = [AppPhone(hall.url, c, 10, seed=i) for i, c in enumerate(cands)]
        for p in phones:
            p.start()
        back, answering = [], []
        for _ in range(2):
            time.sleep(1.5)
            before = [p.stats["reconnects"] for p in phones]
            sup.kill_main()
            t_kill = time.monotonic()
            back.append(wait_healthy(hall.url, 30))
            give_up = time.monotonic() + 30
            while time.monotonic() < give_up and any(p.stats["reconnects"] <= b for p, b in zip(phones, before)):
                time.sleep(0.05)
            assert all(p.stats["reconnects"] > b for p, b in zip(phones, before)), "a phone did not reconnect"
            answering.append(time.monotonic() - t_kill)
        time.sleep(1)
        for p in phones:
            p.stop.set()
        for p in phones:
            p.join(10)
            p.flush()
        acked = {(c["ticket"], q): v for c, p in zip(cands, phones) for q, v in p.acked.items()}
        assert sup.exits[:2] == [-9, -9] and len(sup.starts) == 3
        gaps = [b - a for a, b in zip(sup.starts, sup.starts[1:])]
        print(f"restarts: {len(sup.starts) - 1}, kill→healthy s: {[round(b, 2) for b in back]}, "
              f"kill→every phone resumed s: {[round(a, 2) for a in answering]}, "
              f"acked answers: {len(acked)}, sent: {sum(p.stats['sent'] for p in phones)}")
        assert acked and acked_lost(hall, acked) == []
        assert all(not p.errors for p in phones), [p.errors for p in phones if p.errors]
        assert all(p.unsaved() == [] for p in phones)
        assert min(gaps) >= float(parse_unit(unit)["Service"]["RestartSec"])
    finally:
        for p in phones:
            p.stop.set()
            p.close()
        sup.stop()
