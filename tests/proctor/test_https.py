"""HTTPS as a config option (server.tls_cert / tls_key): the phone page on the LAN address
becomes a secure context, so the camera's getUserMedia path runs there too (issue 16).
The certificate is made here (the exam authority would issue one for the site's name)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

from browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from factories import make_plan  # noqa: E402
from hallproc import HallProcess  # noqa: E402
from proctorkit import astronaut_face  # noqa: E402
from test_camera_browser import lan_address, y4m  # noqa: E402

pytestmark = pytest.mark.browser


def self_signed(d: Path, ips: list[str]) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hall.exam.lan")])
    now = dt.datetime.now(dt.timezone.utc)
    san = [x509.DNSName("hall.exam.lan"), x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).add_extension(x509.SubjectAlternativeName(san), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    c, k = d / "site.crt", d / "site.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


def test_https_makes_the_lan_page_a_secure_context(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    ip = lan_address()
    if ip is None:
        pytest.skip("no non-loopback address on this machine")
    cert, key = self_signed(tmp_path, ["127.0.0.1", ip])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))   # the harness's own requests trust it
    plan = make_plan(candidates_per_room=2, rooms=1)
    hall = HallProcess(tmp_path / "hall", plan, f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
                       "[proctor]\nface_worker = false\n", host="0.0.0.0")
    hall.url = f"https://127.0.0.1:{hall.port}"
    hall.start()
    try:
        assert requests.get(hall.url + "/healthz", timeout=5).json()["ok"]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{hall.port}/healthz", timeout=5)   # no plain HTTP beside it
        c = plan["candidates"][0]
        clip = y4m(tmp_path / "face.y4m", astronaut_face())
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
                "--ignore-certificate-errors", "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={clip}"])
            ctx = b.new_context(viewport={"width": 360, "height": 640}, ignore_https_errors=True, locale="zh-CN")
            page = ctx.new_page()
            page.set_default_timeout(20000)
            page.goto(f"https://{ip}:{hall.port}/r/{hall.qr_token(c['sitting_id'])}")
            assert page.evaluate("window.isSecureContext") is True
            page.fill("#ticket", c["ticket"])
            page.fill("#id6", c["id_number"][-6:])
            page.click("#login-btn")
            page.click("#confirm-btn")
            expect(page.locator("#cam-preview video")).to_be_visible()   # the live camera, not the file input
            page.wait_for_function("document.querySelector('#cam-preview video').videoWidth > 0")
            page.click("#cam-shoot")
            page.wait_for_function("JSON.parse(localStorage.getItem('hall.cap." + c["ticket"] + "') || '[1]').length === 0")
            ctx.close()
            b.close()
        with hall.db() as db:
            assert db.execute("SELECT source FROM captures").fetchone()[0] == "camera"
    finally:
        hall.stop()
