"""Issue 13 item 9: `make demo DEMO_ARGS="--config config.toml"` honours the file (it was
silently ignored after the command), an argument hall does not know is refused, and the
demo's banner lists candidates, not the roster file's header line."""
import subprocess
import sys
import time

import requests

from hallproc import REPO, free_port

SITE_LINE = "1,市直属,重庆市第十三人民医院,2023-09-04/2023-09-05"


def test_demo_honours_config_after_the_command(tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text("site_no,district,site_name,exam_dates\n" + SITE_LINE + "\n", encoding="utf-8")
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "demo-data"\n'
                   '[site]\nwifi_ssid = "DEMO-WIFI-7"\n', encoding="utf-8")
    log = tmp_path / "demo.log"
    proc = subprocess.Popen([sys.executable, "-m", "hall_server", "demo", "--config", str(cfg), "--sites", str(sites)],
                            cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        end = time.time() + 60
        while time.time() < end and "listening on" not in log.read_text(encoding="utf-8", errors="replace"):
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            time.sleep(0.2)
        text = log.read_text(encoding="utf-8")
        assert f"listening on 127.0.0.1:{port}" in text, text
        assert (tmp_path / "demo-data" / "hall.db").exists()          # data_dir of the file, beside it
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        assert "演示考生（准考证号" not in text                         # the header line is no candidate
        roster = [ln for ln in text.splitlines() if ln.startswith("   2023")]
        assert len(roster) == 4, text
        assert "Traceback" not in text
        for f in ("site_keys.json", "answer_keys.json", "roster.csv"):
            assert (tmp_path / "demo-data" / "centre" / f).stat().st_size > 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_unknown_arguments_are_refused(tmp_path):
    r = subprocess.run([sys.executable, "-m", "hall_server", "demo", "--confg", "x.toml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "无法识别的参数" in r.stderr and "--confg" in r.stderr, r.stderr
    assert not (tmp_path / "var").exists()
