"""Issue 13 item 7: on a crowded WiFi the app shell goes out gzip-compressed, with
`Vary: Accept-Encoding` and an ETag per representation (304 on revalidation)."""
import gzip

import requests

from hallproc import REPO

SHELL = {"/r/any-token": "static_client/candidate/index.html",
         "/static/client/app.css": "static_client/candidate/app.css",
         "/static/client/app.js": "static_client/candidate/app.js",
         "/vendor/socket.io.min.js": "static_client/vendor/node_modules/socket.io-client/dist/socket.io.min.js"}


def _get(url, **headers):
    r = requests.get(url, headers=headers, stream=True, timeout=10)
    body = r.raw.read()             # the bytes on the wire, not decoded
    return r, body


def test_app_shell_is_compressed_and_revalidates(hall, capsys):
    wire = {"identity": 0, "gzip": 0}
    for path, file in SHELL.items():
        raw = (REPO / file).read_bytes()
        plain, body = _get(hall.url + path, **{"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and body == raw and "Content-Encoding" not in plain.headers
        zipped, zbody = _get(hall.url + path, **{"Accept-Encoding": "gzip, deflate"})
        assert zipped.status_code == 200, path
        assert zipped.headers.get("Content-Encoding") == "gzip", (path, dict(zipped.headers))
        assert gzip.decompress(zbody) == raw
        for r in (plain, zipped):
            assert "Accept-Encoding" in r.headers.get("Vary", ""), (path, dict(r.headers))
            assert r.headers.get("ETag")
        assert plain.headers["ETag"] != zipped.headers["ETag"]   # two representations, two tags
        again, empty = _get(hall.url + path, **{"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
        assert again.status_code == 304 and empty == b""
        wire["identity"] += len(body)
        wire["gzip"] += len(zbody)
    assert wire["gzip"] < 0.45 * wire["identity"], wire
    with capsys.disabled():
        print(f"\napp shell per phone: {wire['identity']:,} bytes uncompressed, {wire['gzip']:,} gzipped")


def test_compressed_assets_stay_inside_their_folders(hall):
    for path in ("/static/client/../../hall_server/config.py", "/static/client/%2e%2e/%2e%2e/README.md",
                 "/static/client/nope.js", "/console/static/..%2f..%2fconfig.example.toml"):
        r = requests.get(hall.url + path, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert r.status_code in (403, 404), (path, r.status_code)
