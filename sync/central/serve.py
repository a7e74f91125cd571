"""``python -m sync.central serve``: the centre under gunicorn (a production WSGI server).

The one-time work runs once, in this process, before any worker starts: the schema, the
roster and answer keys (a re-score), the admin token (printed once). Then gunicorn forks
its workers; each builds its own app and Store (no database connection crosses a fork)
with ``load_inputs`` off.

* PostgreSQL: the workers share the database; each has its own small pool. Ingest is
  correct across processes (unique bundle_id, per-site advisory locks, the receipt counter
  row; docs/sync.md). Several workers × threads serve many county offices at once.
* SQLite: several workers are safe on a local disk: WAL lets them read at once, writes
  take the file's write lock in turn (``BEGIN IMMEDIATE``, busy_timeout 10 s), and the same
  uniqueness and counter rules hold; writes do not get faster with more workers. Never
  put the file on a network file system.
* The spool folder must be the same for all workers (it is: one machine, one path).
* Per worker, in memory: the admin-token guessing limit, and the wait of a repeated
  finalize for the first (across workers the second answers ``duplicate`` with the same
  receipt, which the client takes as accepted).
"""
from __future__ import annotations

from typing import Any

DEFAULT_THREADS = 8
TIMEOUT_S = 120          # a 64 MiB bundle's verify + store on a slow disk, with room to spare


def default_workers(db: str) -> int:
    from .dbconn import is_postgres_url
    return 4 if is_postgres_url(db) else 2


def gunicorn_options(host: str, port: int, workers: int, threads: int, access_log: str | None) -> dict:
    return {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": threads,
            "timeout": TIMEOUT_S, "graceful_timeout": 10, "accesslog": access_log,
            "proc_name": "hall-central", "preload_app": False}


def run_gunicorn(cfg: dict[str, Any], options: dict) -> None:
    from gunicorn.app.base import BaseApplication

    from .app import create_app

    class CentreServer(BaseApplication):
        def load_config(self):
            for k, v in options.items():
                self.cfg.set(k, v)

        def load(self):                      # in each worker, after the fork
            return create_app({**cfg, "load_inputs": False})

    CentreServer().run()
