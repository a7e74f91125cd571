"""The centre's admin token: every admin route refuses without it (nothing changes) and
works with it; the browser logs in by form or ?token= and gets an HttpOnly cookie; with no
token configured one is generated once, kept only as a hash, and can be replaced."""
from __future__ import annotations

import pytest
import requests

from sync.central import cli as central_cli
from sync.central.admin import COOKIE, META_KEY, AdminAuth
from contracts.upload import upload_bundle
from hall_server.result_export import build_result_bundle

READ_ROUTES = ["/", "/api/status", "/api/pass-marks", "/export/progress.csv", "/export/results.xlsx",
               "/export/candidates.csv", "/export/candidates.xlsx"]
MARK = {"category": "临床", "level": "执业医师", "mark": 60}


@pytest.fixture
def central(tmp_path, make_hall, start_central):
    c = start_central()
    f = tmp_path / "b.hallresult"
    f.write_bytes(build_result_bundle(make_hall("17")[0]))
    assert upload_bundle(f, c.url).state == "accepted"          # uploads need no token
    return c


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Bearer ", "Basic dGVzdA==", "test-admin-token"])
def test_admin_routes_refuse_without_the_token(central, auth):
    h = {"Authorization": auth} if auth else {}
    for path in READ_ROUTES:
        r = requests.get(central.url + path, headers=h, allow_redirects=False)
        assert r.status_code == 401, path
        assert r.json()["error"]["message"] in ("需要管理口令", "管理口令不正确")
        assert "魏" not in r.text and "17" not in r.text          # no names, no site data
    r = requests.post(central.url + "/api/pass-marks", json=MARK, headers=h)
    assert r.status_code == 401 and central.store.pass_marks() == {}
    assert requests.get(central.url + "/?token=wrong", headers={"Accept": "text/html"}).status_code == 401
    assert requests.get(central.url + "/api/health").status_code == 200     # the reachability probe stays open


def test_admin_routes_work_with_the_token(central):
    h = central.admin
    for path in READ_ROUTES:
        assert requests.get(central.url + path, headers=h).status_code == 200, path
    assert requests.post(central.url + "/api/pass-marks", json=MARK, headers=h).status_code == 200
    assert central.store.pass_marks() == {("临床", "执业医师"): 60}
    assert requests.get(central.url + "/api/status", headers={"Authorization": "bearer test-admin-token"}
                        ).status_code == 200                      # the scheme is case-insensitive


def test_browser_login_form_sets_an_httponly_cookie(central):
    s = requests.Session()
    s.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    r = s.get(central.url + "/")
    assert r.status_code == 401 and "需要管理口令" in r.text and '<form method="post" action="/login">' in r.text
    assert "成绩包接收情况" in r.text and "考点 343" not in r.text
    r = s.post(central.url + "/login", data={"token": "wrong", "next": "/"}, allow_redirects=False)
    assert r.status_code == 401 and "管理口令不正确" in r.text and COOKIE not in s.cookies
    r = s.post(central.url + "/login", data={"token": " test-admin-token ", "next": "/export/progress.csv"},
               allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith("/export/progress.csv")
    sc = r.headers["Set-Cookie"]
    assert "HttpOnly" in sc and "SameSite=Lax" in sc and "test-admin-token" not in sc
    assert s.get(central.url + "/").status_code == 200
    assert s.get(central.url + "/export/candidates.csv").status_code == 200
    # the cookie only reads: a change needs the header (no cross-site request can ride it)
    assert s.post(central.url + "/api/pass-marks", json=MARK).status_code == 401
    assert central.store.pass_marks() == {}
    # an open redirect is not offered
    r = s.post(central.url + "/login", data={"token": "test-admin-token", "next": "//evil.example/"},
               allow_redirects=False)
    assert r.headers["Location"].endswith("/") and "evil" not in r.headers["Location"]
    s.post(central.url + "/logout")
    assert s.get(central.url + "/").status_code == 401
    # a forged or expired cookie does not pass
    bad = requests.Session()
    for value in ("9999999999:" + "0" * 64, "1:whatever", "garbage"):
        bad.cookies.set(COOKIE, value)
        assert bad.get(central.url + "/api/status").status_code == 401


def test_token_in_the_link_sets_the_cookie_and_leaves_the_url(central):
    s = requests.Session()
    r = s.get(central.url + "/export/progress.csv?district=x&token=test-admin-token", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/export/progress.csv?district=x"
    assert "HttpOnly" in r.headers["Set-Cookie"]
    assert s.get(central.url + "/").status_code == 200


def test_without_a_configured_token_one_is_generated_once(tmp_path, start_central, central_db):
    db = central_db()
    c1 = start_central(db=db, admin_token=None)
    auth = c1.app.extensions["central_admin"]
    token = auth.new_token
    assert token and len(token.replace("-", "")) == 25 and auth.configured is None
    assert c1.store.meta(META_KEY) != token and token not in str(c1.store.db.query("SELECT value FROM meta"))
    assert requests.get(c1.url + "/api/status").status_code == 401
    assert requests.get(c1.url + "/api/status", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    c1.stop()
    c2 = start_central(db=db, admin_token=None)                      # a restart: the same token, not shown again
    assert c2.app.extensions["central_admin"].new_token is None
    assert requests.get(c2.url + "/api/status", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # `python -m sync.central admin-token` replaces it; the running server follows at once
    spool = ["--spool-dir", str(central_db.spool(db))] if central_db.spool(db) else []
    new = AdminAuth.reset(c2.store)
    assert requests.get(c2.url + "/api/status", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert requests.get(c2.url + "/api/status", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert central_cli.main(["admin-token", "--db", str(db), *spool]) == 0
    newer = out.getvalue().strip()
    assert newer != new
    assert requests.get(c2.url + "/api/status", headers={"Authorization": f"Bearer {newer}"}).status_code == 200


def test_guessing_the_token_locks_the_address_out(central):
    """Ten wrong tokens from one address: the eleventh try is refused with 429 and a
    Retry-After even with the right token, and nothing is revealed meanwhile."""
    for i in range(10):
        r = requests.get(central.url + "/api/status", headers={"Authorization": f"Bearer guess-{i}"})
        assert r.status_code == 401
    r = requests.get(central.url + "/api/status", headers={"Authorization": "Bearer test-admin-token"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json()["error"]["code"] == "too_many_attempts" and "魏" not in r.text
    form = requests.post(central.url + "/login", data={"token": "test-admin-token", "next": "/"},
                         allow_redirects=False)
    assert form.status_code == 429 and "秒后再试" in form.text and COOKIE not in form.cookies
    r = requests.post(central.url + "/api/pass-marks", json=MARK, headers={"Authorization": "Bearer test-admin-token"})
    assert r.status_code == 429 and central.store.pass_marks() == {}
