"""A real, throw-away PostgreSQL server for the tests, from Debian's binaries
(/usr/lib/postgresql/<version>/bin, package "postgresql", installed by `make system-deps`).

Its own data directory, socket directory and free TCP port on 127.0.0.1: it neither needs
nor touches a cluster the Debian package may have started on 5432. PostgreSQL refuses to
run as root, so as root (CI) initdb/pg_ctl run as the package's `postgres` user.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from hallproc import free_port


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        d = Path(initdb).parent
        ver = d.parent.name
        if (d / "pg_ctl").exists() and ver.isdigit():
            found.append((int(ver), d))
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's "
            "'postgresql' package (`make system-deps` does it; CI runs it from .ci/run)")
    return max(found)[1]


class PgServer:
    def __init__(self):
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        self.user = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        if self.as_root:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root but there is no 'postgres' user "
                                          "(it comes with Debian's postgresql package)") from None
        # Not under pytest's basetemp: that is 0700 root, and the server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="hall-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = 0
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def start(self) -> "PgServer":
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        r = self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                      "--no-locale", "--no-instructions")
        if r.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        for _ in range(5):                     # the port may be taken between choosing and binding
            self.port = free_port()
            opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
                    " -c shared_buffers=32MB")
            r = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", opts,
                          "start")
            if r.returncode == 0:
                self.started = True
                return self
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {r.stderr.strip()}\n{log}")

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop", timeout=60)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(sql)

    def create_db(self, hint: str = "t") -> str:
        name = re.sub(r"[^a-z0-9_]", "_", hint.lower())[:30] + "_" + uuid.uuid4().hex[:10]
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_db(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
