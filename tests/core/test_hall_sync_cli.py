"""Issue 13 item 1: `hall sync` as a chief runs it: on the demo's folder, after an early
version left a file named `outbox`, and with no database where it looks."""
import hashlib
import subprocess
import sys
import threading

from hallproc import REPO


def _hall(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hall_server", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_sync_without_a_database_says_what_to_do(tmp_path):
    r = _hall("sync", "--export", str(tmp_path / "usb"), cwd=tmp_path)
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr and "找不到考点数据库" in r.stderr, r.stderr
    assert "hall import" in r.stderr or "--data-dir" in r.stderr
    assert not (tmp_path / "usb").exists()


def test_sync_url_after_a_legacy_outbox_file(tmp_path, hall, plan):
    """An early version's console export left the bundle as a plain file named `outbox`:
    `hall sync --url` must not crash on it (FileExistsError) and must keep that file."""
    from werkzeug.serving import make_server

    from sync.central.app import create_app
    from hall_server.result_export import build_result_bundle

    legacy = build_result_bundle(hall.data_dir / "hall.db")
    (hall.data_dir / "outbox").write_bytes(legacy)
    app = create_app({"db": tmp_path / "centre.db", "site_keys": {plan["site"]["site_no"]: plan["site_key"]["public"]},
                      "admin_token": "t"})
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = _hall("--config", str(hall.config_path), "sync", "--url", f"http://127.0.0.1:{srv.server_port}", cwd=REPO)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert "回执号 1" in r.stdout, r.stdout
    finally:
        srv.shutdown()
        app.extensions["hall_store"].close()
    outbox = hall.data_dir / "outbox"
    assert outbox.is_dir()
    kept = [p for p in outbox.glob("*.hallresult") if p.read_bytes() == legacy]
    assert kept, sorted(p.name for p in outbox.iterdir())


def test_sync_export_to_a_new_usb_folder(tmp_path, hall):
    usb = tmp_path / "usb" / "results"          # does not exist yet
    r = _hall("--config", str(hall.config_path), "sync", "--export", str(usb), cwd=REPO)
    assert r.returncode == 0, r.stderr
    sha = r.stdout.split("sha256: ")[1].split()[0]
    files = sorted(usb.iterdir())
    # the bundle, and beside it the site's signed proof that opens a resumable upload
    assert [f.name[len(files[0].name):] for f in files] == ["", ".sig"], files
    assert files[0].name.endswith(".hallresult")
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == sha
    # the console learns of it: the same bundle sits in the outbox, marked exported
    from hall_server.outbox import last_state

    st = last_state(hall.data_dir / "outbox")
    assert st["state"] == "exported" and st["bundle_id"] == sha and st["file"] == files[0].name
