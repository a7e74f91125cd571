"""The chief's console sends results to the centre (a real ingest server on loopback) and
exports the signed bundle for a USB stick."""
import hashlib
import time


from hallproc import HallProcess, Phone


def _centre(tmp_path, plan):
    import threading

    from werkzeug.serving import make_server

    from sync.central.app import create_app

    app = create_app({"db": tmp_path / "centre.db",
                      "site_keys": {plan["site"]["site_no"]: plan["site_key"]["public"]},
                      "answer_keys": plan["keys"]})
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_chief_uploads_and_exports_results(tmp_path, plan):
    srv = _centre(tmp_path, plan)
    url = f"http://127.0.0.1:{srv.server_port}"
    hall = HallProcess(tmp_path / "h", plan, config_extra=f'[sync]\ncentral_url = "{url}"\n').start()
    try:
        c = plan["candidates"][0]
        p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
        assert p.login(c["sitting_id"])["ok"]
        chief = hall.staff_session()
        assert "尚未上报" in chief.get(hall.url + "/console/").text
        r = chief.post(hall.url + "/console/sync", allow_redirects=False)
        assert r.status_code == 302
        deadline = time.time() + 30
        page = ""
        while time.time() < deadline:
            page = chief.get(hall.url + "/console/").text
            if "已被接收" in page:
                break
            time.sleep(0.3)
        assert "已被接收" in page, page[-1500:]
        page = chief.post(hall.url + "/console/export")
        assert page.status_code == 200
        name = page.text.split('id="export-file" class="mono">')[1].split("<")[0]
        shown = page.text.split('id="export-sha" class="mono sha">')[1].split("<")[0]
        exported = chief.get(hall.url + f"/console/outbox/{name}")
        assert exported.status_code == 200 and name.endswith(".hallresult")
        sha = hashlib.sha256(exported.content).hexdigest()
        assert shown == sha
        from contracts.result_bundle import verify_result_bundle

        info = verify_result_bundle(exported.content, {plan["site"]["site_no"]: plan["site_key"]["public"]})
        assert info["bundle_id"] == sha and info["site"]["site_no"] == plan["site"]["site_no"]
        assert [a["ticket"] for a in info["attempts"]] == [c["ticket"]]       # the one phone that logged in
        inv = hall.staff_session("r01", "r01-pw")
        assert inv.post(hall.url + "/console/sync", allow_redirects=False).status_code == 403
        assert inv.post(hall.url + "/console/export").status_code == 403
        assert inv.get(hall.url + f"/console/outbox/{name}").status_code == 403
        assert chief.get(hall.url + "/console/outbox/..%2Fhall.db").status_code == 404
        with hall.db() as db:
            acts = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor='staff:chief'")]
        assert "sync_upload" in acts and "export_results" in acts
    finally:
        hall.stop()
        srv.shutdown()


def test_hall_sync_cli_export(tmp_path, hall, plan):
    import subprocess
    import sys

    from hallproc import REPO

    out = tmp_path / "usb"
    out.mkdir()
    r = subprocess.run([sys.executable, "-m", "hall_server", "--config", str(hall.config_path), "sync", "--export",
                        str(out)], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sha = r.stdout.split("sha256: ")[1].split()[0]
    files = sorted(out.iterdir())
    # the bundle, and beside it the site's proof that lets the county office open a resumable upload
    assert [f.suffix for f in files] == [".hallresult", ".sig"] and files[1].name == files[0].name + ".sig"
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == sha
    r = subprocess.run([sys.executable, "-m", "hall_server", "--config", str(hall.config_path), "sync"],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2 and "U盘" in r.stderr
