"""Property-based fuzzing of every HTTP route with hostile paths, headers, methods and
bodies. Requests go out through http.client with the path exactly as generated (no client
side normalisation of '..', '%2e', '//'), so traversal attempts reach the server as sent.

Properties: never a 5xx, never a file outside the asset folders (the database, the config,
Python sources), never the console without a staff session, /api/paper only for a real
session, the login page's `next` never leaves the appliance, the database unchanged."""
from __future__ import annotations

import http.client
import socket
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import fast_plan
from fuzzkit import HallProcess, answering, examples, healthy, snapshot, tally  # noqa: F401

PLAN = fast_plan(candidates_per_room=2, duration_minutes=30)
SECRETS = [b"SQLite format 3", b"site_key", b"[server]", b"data_dir", b"password_hash", b"import ", b"def ",
           b"Traceback", b"BEGIN PRIVATE", b"flask_secret"]
OK_STATUS = {200, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 409, 411, 413, 414, 416, 431}
SETTINGS = settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))

ROUTES = ["/r/{}", "/api/media/{}", "/static/client/{}", "/console/{}", "/console/sitting/{}",
          "/console/sitting/{}/qr.png", "/console/sitting/D1S1-R01/print/{}.pdf", "/console/static/{}", "/{}",
          "/vendor/{}", "/api/{}", "/socket.io/?EIO={}&transport=polling", "/healthz?{}"]
CONSOLE_OPEN = ("/console/login", "/console/static/", "/console/pair")  # the only console pages served without a session (pair: a tablet enters its pairing code)
TRAVERSAL = ["..", "../..", "../../hall.db", "..%2f..%2fhall.db", "%2e%2e/%2e%2e/config.toml", "....//....//",
             "..\\..\\hall.db", "%252e%252e%252f", "/etc/passwd", "//etc/passwd", ".%00.", "%00", "%ff%fe",
             "~root", "hall.db", "config.toml", "server.log", "../../../hall_server/app.py", "index.html%00.js",
             "app.js", "..;/", "%c0%ae%c0%ae/", "\u2025/", "\uff0e\uff0e/"]
segment = st.one_of(
    st.sampled_from(TRAVERSAL),
    st.text(min_size=0, max_size=40).map(lambda s: urllib.parse.quote(s, safe="/.%~")),
    st.lists(st.sampled_from(TRAVERSAL + ["a", ".", "", "%2f"]), min_size=1, max_size=5).map("/".join),
    st.binary(max_size=20).map(lambda b: urllib.parse.quote_from_bytes(b, safe="/.")),
)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    h = HallProcess(tmp_path_factory.mktemp("http") / "hall", PLAN).start()
    h.phone = answering(h, PLAN["candidates"][0])
    h.before = snapshot(h)
    yield h
    h.phone.close()
    h.stop()


def raw_request(hall, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """One request written by hand: the path goes out byte for byte (UTF-8, no
    normalisation), as a hostile client would send it."""
    lines = [f"{method} ".encode() + path.encode("utf-8", "surrogatepass") + b" HTTP/1.1",
             f"Host: 127.0.0.1:{hall.port}".encode(), b"Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(k.encode() + b": " + (v if isinstance(v, bytes) else v.encode("latin-1")))
    if body is not None:
        lines.append(f"Content-Length: {len(body)}".encode())
    sock = socket.create_connection(("127.0.0.1", hall.port), timeout=10)
    try:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        r = http.client.HTTPResponse(sock, method=method)
        r.begin()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        sock.close()


def check(path: str, status: int, headers: dict, body: bytes, method: str = "GET") -> None:
    assert status in OK_STATUS, (path, status, body[:200])
    for s in SECRETS:
        if s in body and s not in path.encode() and not path.startswith(("/static/client", "/vendor", "/console/static", "/r/", "/?", "/ ")):
            raise AssertionError((path, s, body[:200]))
    if (path.startswith("/console") and not path.startswith(CONSOLE_OPEN) and status == 200
            and (body or method == "HEAD")):  # OPTIONS answers 200 with an empty body: no content
        raise AssertionError(("console page without a session", path, body[:200]))


@SETTINGS
@given(route=st.sampled_from(ROUTES), seg=segment)
def test_hostile_paths(hall, tally, route, seg):
    path = route.format(seg)
    if not path.startswith("/"):
        path = "/" + path
    status, headers, body = raw_request(hall, "GET", path)
    check(path, status, headers, body)
    if path.startswith("/static/client/") and status == 200:
        assert len(body) < 5_000_000
    tally.add("http hostile path", "rejected" if status >= 300 else "served_public_asset")


header_value = st.one_of(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                                 max_size=300),
                         st.sampled_from(["Bearer ", "Bearer null", "Bearer undefined", "Bearer " + "A" * 32,
                                          "Bearer ../../", "Bearer ' OR 1=1 --", "Bearer \u00ff\u00fe"]))


@SETTINGS
@given(auth=header_value, inm=header_value, extra=st.dictionaries(
    st.sampled_from(["X-Forwarded-For", "X-Real-IP", "X-Ticket", "Cookie", "Range", "Accept-Encoding", "Origin"]),
    header_value, max_size=3))
def test_paper_with_forged_authorization(hall, tally, auth, inm, extra):
    real = f"Bearer {hall.phone.session}"
    headers = {"Authorization": auth, "If-None-Match": inm, **extra}
    status, h, body = raw_request(hall, "GET", "/api/paper", headers=headers)
    check("/api/paper", status, h, body)
    if auth.strip() == real:
        assert status in (200, 304)
        tally.add("http /api/paper forged auth", "accepted_real_session")
    else:
        assert status == 401 and b"bad_session" in body, (auth, status)
        tally.add("http /api/paper forged auth", "rejected")


@SETTINGS
@given(method=st.sampled_from(["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "GETT", "HEAD",
                               "CONNECT"]),
       path=st.sampled_from(["/", "/r/x", "/api/paper", "/api/media/x.png", "/healthz", "/console/", "/console/login",
                             "/console/logout", "/console/sitting/D1S1-R01", "/static/client/app.js",
                             "/socket.io/?EIO=4&transport=polling"]),
       body=st.one_of(st.none(), st.binary(max_size=2000), st.text(max_size=500).map(str.encode)),
       ctype=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=x",
                              "text/plain", "application/octet-stream"]))
def test_hostile_methods_and_bodies(hall, tally, method, path, body, ctype):
    status, h, resp = raw_request(hall, method, path, headers={"Content-Type": ctype}, body=body)
    check(path, status, h, resp, method)
    tally.add("http method/body", "rejected" if status >= 300 or method not in ("GET", "HEAD") else "public_get")


def test_oversized_requests(hall, tally):
    cases = [
        ("POST", "/console/login", {"Content-Type": "application/x-www-form-urlencoded"},
         b"username=chief&password=" + b"x" * 1_000_000, {413}),
        ("POST", "/console/login", {"Content-Type": "application/x-www-form-urlencoded"},
         b"username=chief&password=" + b"x" * 60_000, {401, 413}),
        ("GET", "/api/paper", {"Authorization": "Bearer " + "A" * 7000}, None, {401, 400, 431}),
        ("GET", "/r/" + "A" * 7000, {}, None, {200, 414, 400}),
        ("GET", "/healthz", {"X-Junk": "j" * 7000}, None, {200, 400, 431}),
        ("GET", "/healthz", {f"X-H{i}": "v" for i in range(300)}, None, {200, 400, 431}),
    ]
    for method, path, headers, body, want in cases:
        try:
            status, h, resp = raw_request(hall, method, path, headers=headers, body=body)
        except (ConnectionError, http.client.HTTPException):
            status = "closed"
        assert status in want or status == "closed", (path[:40], status)
        tally.add("http oversized", "rejected" if status != 200 else "served")
        assert healthy(hall)


def test_console_login_next_never_leaves_the_appliance(hall, tally):
    for nxt in ["//evil.example/", "https://evil.example/", "/console@evil.example", "/console.evil.example",
                "/console/../..//evil.example", "/console\\@evil.example", "/console%0d%0aSet-Cookie:x=1",
                "/console/%2f%2fevil.example", "javascript:alert(1)", "/\\evil.example"]:
        q = urllib.parse.urlencode({"next": nxt})
        status, h, _ = raw_request(hall, "POST", f"/console/login?{q}",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"},
                                   body=b"username=chief&password=chief-pw")
        assert status == 302
        loc = h["Location"]
        assert "\r" not in loc and "\n" not in loc
        target = urllib.parse.urlsplit(urllib.parse.urljoin(hall.url + "/console/login", loc))
        assert target.netloc == f"127.0.0.1:{hall.port}" and target.scheme == "http", (nxt, loc)
        assert not target.path.startswith("//") and "\\" not in target.path, (nxt, loc)
        tally.add("http login next redirect", "rejected")


def test_nothing_changed(hall):
    assert healthy(hall)
    after = snapshot(hall)
    assert after == hall.before
