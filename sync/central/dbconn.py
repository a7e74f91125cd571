"""The central store's database: SQLite (a file path) or PostgreSQL (a ``postgresql://`` URL).

Store writes its SQL once, SQLite-flavoured where the two agree (``?`` placeholders,
``INSERT … ON CONFLICT``, ``RETURNING``); this module hides what differs:

* placeholders (``?`` -> ``%s``) and rows that answer both ``r[0]`` and ``r["col"]``;
* DDL types: the schema uses ``{ID}``, ``{INT}``, ``{REAL}``, ``{BLOB}`` (PostgreSQL's REAL
  is 4 bytes and INTEGER 32 bits: timestamps and sizes need DOUBLE PRECISION and BIGINT);
* transactions: SQLite has one connection, a process lock and ``BEGIN IMMEDIATE`` (one
  writer at a time anyway); PostgreSQL has a small pool, so two sites' uploads proceed in
  parallel, and named advisory locks (``tx.lock(name)``) serialize what must be serialized
  even across several server processes;
* ``tx.for_update``: row locks where PostgreSQL needs them (SQLite's write lock covers it).
"""
from __future__ import annotations

import functools
import hashlib
import queue
import re
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

POOL_SIZE = 8


def is_postgres_url(db: str | Path) -> bool:
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class Row(tuple):
    """A result row: a tuple that also answers r["name"] and dict(r), like sqlite3.Row."""
    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    def keys(self):
        return list(self._names)

    def __getitem__(self, k):
        if isinstance(k, str):
            return tuple.__getitem__(self, self._index[k])
        return tuple.__getitem__(self, k)


@functools.lru_cache(maxsize=256)
def _row_class(names: tuple[str, ...]):
    return type("Row", (Row,), {"__slots__": (), "_names": names,
                                "_index": {n: i for i, n in enumerate(names)}})


def _pg_row_factory(cursor):
    return _row_class(tuple(c.name for c in (cursor.description or ())))


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    # Store's SQL never has "?" or "%" inside a literal.
    return sql.replace("%", "%%").replace("?", "%s")


class Tx:
    """One transaction: execute(), lock(name), for_update."""

    def __init__(self, conn, pg: bool):
        self._c = conn
        self.pg = pg
        self.for_update = " FOR UPDATE" if pg else ""

    def execute(self, sql: str, args: Sequence[Any] = ()):
        if self.pg:
            return self._c.execute(_pg_sql(sql), tuple(args))
        return self._c.execute(sql, tuple(args))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        if self.pg:                       # psycopg pipelines these: not one round trip per row
            self._c.cursor().executemany(_pg_sql(sql), rows)
        else:
            self._c.executemany(sql, rows)

    def lock(self, name: str) -> None:
        """Hold a named lock until this transaction ends (PostgreSQL; SQLite's one writer
        already excludes everything else)."""
        if self.pg:
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            self._c.execute("SELECT pg_advisory_xact_lock(%s)", (key,))


class Database:
    kind = "?"

    def tx(self):                         # -> context manager yielding Tx
        raise NotImplementedError

    def query(self, sql: str, args: Sequence[Any] = ()) -> list:
        """A read outside any explicit transaction (a consistent snapshot of one statement)."""
        with self.tx() as t:
            return t.execute(sql, args).fetchall()

    def create_schema(self, ddl: str) -> None:
        raise NotImplementedError

    def add_column(self, table: str, column: str, decl: str) -> None:
        """Add a column to a table made by an earlier version (no-op when it is there)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteDatabase(Database):
    kind = "sqlite"
    TYPES = {"ID": "INTEGER PRIMARY KEY", "INT": "INTEGER", "REAL": "REAL", "BLOB": "BLOB"}

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA busy_timeout = 10000")

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        with self.lock:                   # the connection is shared: one transaction at a time
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self.conn, pg=False)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql, args=()):
        with self.lock:
            return self.conn.execute(sql, tuple(args)).fetchall()

    def create_schema(self, ddl: str) -> None:
        with self.lock:
            self.conn.executescript(ddl.format(**self.TYPES))

    def add_column(self, table: str, column: str, decl: str) -> None:
        assert table.isidentifier() and column.isidentifier()
        with self.tx() as t:              # the write lock: two processes starting at once
            if column not in {r[1] for r in t.execute(f"PRAGMA table_info({table})").fetchall()}:
                t.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def close(self) -> None:
        self.conn.close()


class PostgresDatabase(Database):
    kind = "postgres"
    TYPES = {"ID": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "INT": "BIGINT",
             "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}

    def __init__(self, url: str, pool_size: int = POOL_SIZE):
        import psycopg               # only a PostgreSQL centre needs the driver loaded
        self._psycopg = psycopg
        self.url = url
        self._free: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._all: list = []
        self._closed = False
        self._mu = threading.Lock()
        with self.tx():               # fail now, with a clear message, if the server is not there
            pass

    def _connect(self):
        try:
            c = self._psycopg.connect(self.url, autocommit=True, row_factory=_pg_row_factory,
                                      connect_timeout=10, application_name="hall-central")
        except self._psycopg.OperationalError as e:
            raise ConnectionError(f"cannot connect to {redact(self.url)}: {e}") from None
        with self._mu:
            self._all.append(c)
        return c

    @contextmanager
    def _conn(self):
        self._slots.acquire()
        try:
            try:
                c = self._free.get_nowait()
            except queue.Empty:
                c = self._connect()
            try:
                yield c
            finally:
                if c.closed or c.broken or self._closed:
                    c.close()
                    with self._mu:
                        if c in self._all:
                            self._all.remove(c)
                else:
                    self._free.put(c)
        finally:
            self._slots.release()

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        with self._conn() as c, c.transaction():
            yield Tx(c, pg=True)

    def query(self, sql, args=()):
        with self._conn() as c:           # autocommit: one statement, one snapshot
            return c.execute(_pg_sql(sql), tuple(args)).fetchall()

    def create_schema(self, ddl: str) -> None:
        with self.tx() as t:
            t.lock("hall-central:schema")      # two processes starting at once
            t._c.execute(ddl.format(**self.TYPES))

    def add_column(self, table: str, column: str, decl: str) -> None:
        assert table.isidentifier() and column.isidentifier()
        with self.tx() as t:
            t.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {decl.format(**self.TYPES)}")

    def close(self) -> None:
        self._closed = True
        with self._mu:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except Exception:
                pass


def open_database(db: str | Path) -> Database:
    if is_postgres_url(db):
        return PostgresDatabase(str(db))
    return SqliteDatabase(db)
