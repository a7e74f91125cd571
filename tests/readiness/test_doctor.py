"""Issue 15 item 4: `hall doctor`, one pass/fail line per check. Every check is driven by
the inputs it is given (the machine's readings are arguments), through its pass and its
fail path; the command and the console's home page are run for real."""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hall_server.doctor import format_text, network_checks as net, site_checks as site, system_checks as sysc
from hall_server.doctor.probes import is_hall_server
from hall_server.doctor.result import FAIL, PASS, WARN, Check
from hallproc import REPO, HallProcess

MB = 1024 * 1024
TZ = dt.timezone(dt.timedelta(hours=8))


def test_disk_space():
    assert sysc.disk_space(10_000 * MB, 300, 50 * MB, 512, 256).status == PASS
    c = sysc.disk_space(300 * MB, 300, 50 * MB, 512, 256)
    assert c.status == FAIL and "剩余 300 MB" in c.detail
    # a big site needs more than the floor: 20,000 candidates x 256 KB
    assert sysc.disk_space(4_000 * MB, 20_000, 0, 512, 256).status == FAIL


MOUNTS = """/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid 0 0
tmpfs /var/lib/hall-ram tmpfs rw 0 0
/dev/sdb1 /media/usb vfat rw 0 0
/dev/sr0 /media/cdrom iso9660 ro 0 0
/dev/sda2 /srv ext4 ro,relatime 0 0
"""


@pytest.mark.parametrize("path,status", [("/var/lib/hall", PASS), ("/run/hall", FAIL), ("/var/lib/hall-ram/x", FAIL),
                                         ("/media/usb/hall", WARN), ("/media/cdrom/hall", FAIL), ("/srv/hall", FAIL)])
def test_real_disk(path, status):
    assert sysc.real_disk(Path(path), MOUNTS).status == status


def test_open_files():
    assert sysc.open_files(1024, 1_048_576, 4096, 256).status == PASS
    c = sysc.open_files(1024, 4096, 4096, 256)
    assert c.status == FAIL and "4352" in c.detail and "install-service" in c.fix


def test_power():
    ac = {"name": "AC", "type": "Mains", "online": "1"}
    bat = {"name": "BAT0", "type": "Battery", "capacity": "35", "status": "Discharging"}
    assert sysc.power([], 50).status == PASS
    assert sysc.power([ac, bat], 50).status == PASS
    assert sysc.power([ac | {"online": "0"}, bat], 50).status == FAIL
    assert sysc.power([ac | {"online": "0"}, bat | {"capacity": "80"}], 50).status == WARN


def test_cjk_font():
    assert sysc.cjk_font(lambda: Path("/usr/share/fonts/x.ttc")).status == PASS

    def missing():
        from contracts.fonts import FontMissing
        raise FontMissing("找不到文泉驿微米黑字体")

    c = sysc.cjk_font(missing)
    assert c.status == FAIL and "fonts-wqy-microhei" in c.fix


LPSTAT_OK = "printer HP_LaserJet is idle.  enabled since Mon 04 Sep 2023\nsystem default destination: HP_LaserJet\n"
LPSTAT_OFF = "printer HP_LaserJet disabled since Mon 04 Sep 2023 -\n\tPaused\n"


def test_printer():
    assert sysc.printer(LPSTAT_OK, expected=True).status == PASS
    assert sysc.printer(LPSTAT_OFF, expected=True).status == FAIL
    assert sysc.printer(None, expected=True).status == FAIL
    assert sysc.printer("", expected=False).status == WARN
    assert sysc.printer(None, expected=False).status == WARN


NFT_DROP = """table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport 22 accept
	}
}"""
NFT_OPEN = NFT_DROP.replace("tcp dport 22 accept", "tcp dport { 22, 8080 } accept")


def test_firewall():
    none = {"nft": None, "iptables": None, "ufw": None}
    assert sysc.firewall(none, 8080).status == PASS
    assert sysc.firewall(none | {"nft": NFT_DROP}, 8080).status == FAIL
    assert sysc.firewall(none | {"nft": NFT_OPEN}, 8080).status == PASS
    assert sysc.firewall(none | {"nft": NFT_DROP.replace("policy drop", "policy accept")}, 8080).status == PASS
    ipt = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
    assert sysc.firewall(none | {"iptables": ipt}, 8080).status == FAIL
    assert sysc.firewall(none | {"iptables": ipt + "-A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT\n"}, 8080).status == PASS
    ufw = "Status: active\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW       Anywhere\n"
    c = sysc.firewall(none | {"ufw": ufw}, 8080)
    assert c.status == FAIL and "ufw allow 8080/tcp" in c.fix
    assert sysc.firewall(none | {"ufw": ufw + "8080/tcp                   ALLOW       Anywhere\n"}, 8080).status == PASS
    assert sysc.firewall(none | {"ufw": "Status: inactive\n"}, 8080).status == PASS


def test_lan_address():
    assert net.lan_address("0.0.0.0", "", "192.168.1.23", ["127.0.0.1", "192.168.1.23"]).status == PASS
    assert net.lan_address("0.0.0.0", "", "127.0.0.1", ["127.0.0.1"]).status == FAIL
    assert net.lan_address("127.0.0.1", "", "192.168.1.23", ["192.168.1.23"]).status == FAIL
    assert net.lan_address("0.0.0.0", "http://192.168.1.23:8080", "192.168.1.23", ["192.168.1.23"]).status == PASS
    assert net.lan_address("0.0.0.0", "http://192.168.9.9:8080", "192.168.1.23", ["192.168.1.23"]).status == FAIL


def test_port_reachable():
    url = "http://192.168.1.23:8080"
    assert net.port_reachable(url, False, None, 8080).status == PASS
    assert net.port_reachable(url, True, {"ok": True, "now": 1}, 8080).status == PASS
    assert net.port_reachable(url, True, None, 8080).status == FAIL


def test_second_process():
    cfg = "/etc/hall/config.toml"
    a = (100, ["/opt/hall/venv/bin/python", "/opt/hall/venv/bin/hall", "--config", cfg, "serve"])
    b = (200, ["python", "-m", "hall_server", "--config", cfg, "serve"])
    other = (300, ["python", "-m", "hall_server", "--config", "/tmp/x.toml", "demo", "--port", "9000"])
    assert is_hall_server(a[1]) and is_hall_server(b[1]) and not is_hall_server(["python", "-m", "pytest", "serve"])
    assert net.second_process([], {1}, cfg, 8080, False, False, None).status == PASS
    assert net.second_process([a], {1}, cfg, 8080, True, True, None).status == PASS
    assert net.second_process([a, b], {1}, cfg, 8080, True, True, None).status == FAIL
    assert net.second_process([], {1}, cfg, 8080, True, False, None).status == FAIL     # port held by another program
    assert net.second_process([other], {1}, cfg, 8080, False, False, None).status == WARN
    # asked by the running server (pid 100) about itself
    assert net.second_process([a], {1, 100}, cfg, 8080, True, True, 100).status == PASS
    assert net.second_process([a, b], {1, 100}, cfg, 8080, True, True, 100).status == FAIL


def _site(dates=("2023-09-04", "2023-09-05"), sittings=None, sealed=(), meta=None):
    sittings = sittings or [{"sitting_id": "D1S1-R01", "date": "2023-09-04", "planned_start": "x", "status": "planned"},
                            {"sitting_id": "D2S1-R01", "date": "2023-09-05", "planned_start": "x", "status": "planned"}]
    return {"meta": {"site_no": "1", "site_name": "测试考点", "exam_dates": json.dumps(list(dates)),
                     "bundle_id": "b" * 64, "demo": "0", "district": "渝中区"} | (meta or {}),
            "sittings": sittings, "sealed": set(sealed), "candidates": 60, "audit": [], "broken": False}


def test_clock():
    at = lambda d: dt.datetime.fromisoformat(d + "T07:30:00+08:00")  # noqa: E731
    assert site.clock(at("2023-09-04"), _site()).status == PASS
    assert site.clock(at("2023-09-01"), _site()).status == WARN                 # days before: rehearsal
    c = site.clock(at("2023-09-07"), _site())
    assert c.status == FAIL and "2 个未开考场次" in c.detail                   # the clock or the dates are wrong
    done = _site(sittings=[{"sitting_id": "D1S1-R01", "date": "2023-09-04", "planned_start": "x", "status": "ended"}])
    assert site.clock(at("2023-09-07"), done).status == PASS
    assert site.clock(at("2023-09-04"), None).status == WARN


def test_bundle():
    assert site.bundle(_site(), (True, None)).status == PASS
    assert site.bundle(None, None).status == FAIL
    assert site.bundle(_site(), (False, 17)).status == FAIL
    assert site.bundle(_site(meta={"demo": "1"}), (True, None)).status == WARN
    assert site.bundle(_site(meta={"bundle_id": ""}), (True, None)).status == WARN
    assert site.bundle(_site(meta={"site_no": ""}), (True, None)).status == FAIL


def test_release_codes():
    office = "渝中区定考办（023-63765144）"
    s = _site(sealed=["D1S1-R01", "D2S1-R01"])
    c = site.release_codes(s, "2023-09-04", office, None)
    assert c.status == WARN and "D1S1-R01" in c.detail and "023-63765144" in c.fix
    assert site.release_codes(s, "2023-09-04", office, {"D1S1-R01": True}).status == PASS
    assert site.release_codes(s, "2023-09-04", office, {"D1S1-R01": False}).status == FAIL
    assert site.release_codes(_site(), "2023-09-04", office, None).status == PASS


def test_format_and_verdict():
    ok = [Check("a", "甲", PASS, "好"), Check("b", "乙", WARN, "注意", "做点什么")]
    assert format_text(ok).splitlines()[-1].startswith("结论：可以开考")
    bad = ok + [Check("c", "丙", FAIL, "坏", "修好它")]
    text = format_text(bad)
    assert "[不通过] 丙" in text and "→ 修好它" in text and "有 1 项必须处理" in text


def test_release_codes_file_opens_the_sealed_sittings(tmp_path):
    """A real sealed bundle: the 放行码 sheet's codes are tried against the sealed papers."""
    from hall_server.doctor import verify_codes
    from hall_server.importer import import_bundle
    from provisioning.demo import build_demo_plan
    from contracts.keys import keygen
    from provisioning.provision import seal_plan

    priv, pub = keygen(tmp_path / "keys")
    manifest, codes = seal_plan(build_demo_plan(), priv, tmp_path / "demo.hallbundle")
    import_bundle(tmp_path / "hall.db", tmp_path / "demo.hallbundle", pub)
    sheet = "\n".join(f"{sid}  第1考场  2023-09-04T09:00:00+08:00  {code}" for sid, code in codes.items())
    assert verify_codes(tmp_path / "hall.db", sheet) == {sid: True for sid in codes}
    first = sorted(codes)[0]
    wrong = sheet.replace(codes[first], codes[sorted(codes)[1]])
    assert verify_codes(tmp_path / "hall.db", wrong)[first] is False


def test_hall_doctor_command_exits_1_on_a_blocker(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\ndata_dir = "{tmp_path / "empty"}"\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "hall_server", "--config", str(cfg), "doctor"], capture_output=True,
                       text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"^\[不通过\] 考点数据包", r.stdout, re.M) and "结论：有" in r.stdout
    r = subprocess.run([sys.executable, "-m", "hall_server", "--config", str(cfg), "doctor", "--json"],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    keys = [c["key"] for c in json.loads(r.stdout)]
    assert keys == ["bundle", "clock", "codes", "lan", "port", "firewall", "second", "disk", "real_disk", "nofile",
                    "power", "font", "printer", "replica"]


def test_console_home_shows_the_preflight_to_the_chief(tmp_path, plan):
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        chief = hall.staff_session()
        page = chief.get(hall.url + "/console/", timeout=60).text
        assert 'id="doctor"' in page and "考前自检" in page
        items = re.findall(r'<li class="(pass|warn|fail)" data-key="(\w+)"', page)
        assert {k for _, k in items} >= {"bundle", "clock", "lan", "second", "font", "nofile"}
        assert ("pass", "second") in items                    # the server itself is not a "second process"
        assert ("pass", "font") in items
        inv = hall.staff_session("r01", "r01-pw").get(hall.url + "/console/", timeout=30).text
        assert 'id="doctor"' not in inv
    finally:
        hall.stop()
