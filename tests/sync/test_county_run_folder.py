"""Issue 13 item 1: a county office's USB folder holds more than bundles. Every file the
county run does not take is named with the reason, and a bundle under another name (an early
version's `outbox`) is still taken."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hall_server.outbox import export_bundle

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("central_db", ["sqlite"], indirect=True)
def test_county_run_names_every_file_it_does_not_take(tmp_path, make_hall, start_central):
    usb = tmp_path / "usb"
    usb.mkdir()
    good, _ = export_bundle(make_hall("1")[0], usb)
    legacy_src, _ = export_bundle(make_hall("2")[0], tmp_path / "elsewhere")
    (usb / "outbox").write_bytes(legacy_src.read_bytes())          # no extension
    (usb / "交接单.txt").write_text("sha256 …", encoding="utf-8")
    (usb / (good.name + ".sync.json")).write_text(json.dumps({"state": "exported"}), encoding="utf-8")
    (usb / "result-3-all-g9-abc.hallresult.part").write_bytes(b'{"format":"hall-res')
    (usb / "orphan.hallresult.receipt.json").write_text("{}", encoding="utf-8")
    before = [p.name for p in usb.iterdir()]
    central = start_central()
    r = subprocess.run([sys.executable, "-m", "sync", "county-run", str(usb), "--url", central.url,
                        "--report", str(tmp_path / "r.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    assert "共 2 个成绩包：新接收 2" in r.stderr, r.stderr
    assert "另有 3 个文件未处理" in r.stderr
    for name, why in (("交接单.txt", "不是成绩包文件"), ("orphan.hallresult.receipt.json", "回执记录"),
                      ("result-3-all-g9-abc.hallresult.part", "未写完")):
        line = next((ln for ln in r.stderr.splitlines() if name in ln and "未处理" in ln), None)
        assert line and why in line, (name, r.stderr)
    assert {b["site_no"] for b in central.store.bundles()} == {"1", "2"}
    report = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert report.count("未处理") == 3
    assert "另有 1 个成绩包的上传状态/回执记录文件" in r.stderr     # the .sync.json beside a bundle
    assert sorted(p.name for p in usb.iterdir()) == sorted(before)   # nothing written on the stick
