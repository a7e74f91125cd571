"""Fixtures for the sync tests: demo hall DBs, a real central HTTP server on loopback
(on SQLite and on a real PostgreSQL server), and a connection-cutting HTTP proxy."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from contracts.shipped import SITES_CSV  # the copy the repo ships
from sync.central.app import create_app
from factories import finished_site, new_site_key
from pg_server import PgServer, PostgresUnavailable
from sync_proxy import CuttingProxy

ADMIN_TOKEN = "test-admin-token"     # tests use Central.admin (headers), never import conftest


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the session (Debian's binaries; missing -> the test fails)."""
    try:
        srv = PgServer().start()
    except PostgresUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def central_db(request, tmp_path):
    """new_db(name="centre") -> a fresh, empty centre database: a SQLite path, or the URL of
    a database created on the session's PostgreSQL server (dropped after the test).
    ``new_db.kind`` is "sqlite" or "postgres"; ``new_db.spool(db)`` the spool dir to use
    (PostgreSQL: one in tmp_path, not var/ in the working tree; SQLite: None, the default)."""
    made = []
    pg = request.getfixturevalue("pg_server") if request.param == "postgres" else None

    def new_db(name="centre"):
        if pg is None:
            return tmp_path / f"{name}.db"
        dbname = pg.create_db(name)
        made.append(dbname)
        return pg.url(dbname)
    new_db.kind = request.param
    new_db.spool = lambda db: None if pg is None else tmp_path / f"spool-{str(db).rsplit('/', 1)[-1]}"
    yield new_db
    for dbname in made:
        pg.drop_db(dbname)


@pytest.fixture(scope="session")
def site_keys():
    """Six sites' key pairs: {site_no: (private_b64, public_b64)}."""
    return {str(n): new_site_key() for n in (1, 2, 3, 17, 42, 343)}


@pytest.fixture(scope="session")
def public_keys(site_keys):
    return {k: v[1] for k, v in site_keys.items()}


@pytest.fixture
def make_hall(tmp_path, site_keys):
    """make_hall(site_no, **kw) -> (db_path, info). info['keys'] are the answer keys."""
    def _make(site_no="17", name=None, **kw):
        p = tmp_path / (name or f"hall-{site_no}.db")
        info = finished_site(p, site_no, site_keys[site_no][0], **{"n_candidates": 8, "questions": 20, **kw})
        return p, info
    return _make


class Central:
    def __init__(self, app, server, thread):
        self.app, self.server, self.thread = app, server, thread
        self.port = server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = app.extensions["hall_store"]
        auth = app.extensions["central_admin"]
        token = auth.configured or auth.new_token
        self.admin = {"Authorization": f"Bearer {token}"} if token else {}

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)
        self.store.close()


@pytest.fixture
def start_central(central_db, public_keys):
    """start_central(db=None, **config): the central service on loopback, on a fresh
    database of the parametrized backend unless ``db`` is given. Admin token: ADMIN_TOKEN."""
    started = []

    def _start(db=None, **cfg):
        db = db or central_db()
        config = {"db": db, "spool_dir": central_db.spool(db), "site_keys": public_keys,
                  "sites_csv": SITES_CSV, "admin_token": ADMIN_TOKEN, **cfg}
        app = create_app(config)
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        c = Central(app, srv, t)
        started.append(c)
        return c
    yield _start
    for c in started:
        try:
            c.stop()
        except Exception:
            pass


@pytest.fixture
def proxy():
    made = []

    def _make(target_port, policy):
        p = CuttingProxy(target_port, policy)
        made.append(p)
        return p
    yield _make
    for p in made:
        p.close()
