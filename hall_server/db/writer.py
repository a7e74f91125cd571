"""The single writer: one real OS thread that owns every write and commits in groups.

Handlers never touch SQLite. They submit an operation (a function of a connection) and
wait; the writer takes everything queued, runs each operation in its own savepoint inside
one transaction, commits once (one fsync for the whole group) and only then wakes the
waiters. An operation's result is therefore never seen by a phone before it is durable.
"""
from __future__ import annotations

import collections
import logging
import sqlite3
import time
from typing import Any, Callable

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from eventlet import patcher  # importing eventlet does not monkey-patch anything

from . import schema

_threading = patcher.original("threading")
_os = patcher.original("os")

log = logging.getLogger(__name__)

Op = Callable[..., Any]


class StorageError(RuntimeError):
    """The commit failed (disk full, read-only, I/O error): nothing in the batch was saved."""


_STORAGE_MESSAGES = ("disk is full", "readonly", "read-only", "disk i/o", "unable to open", "out of memory")


def is_storage_failure(e: BaseException) -> bool:
    """Errors of the machine, not of the operation: no op in the batch can succeed."""
    return isinstance(e, sqlite3.OperationalError) and any(m in str(e).lower() for m in _STORAGE_MESSAGES)


class Inbox:
    """Operations waiting for the writer: a deque plus a pipe that wakes the writer when idle.

    queue.Queue would take a real mutex and notify a condition on every put, from the event
    loop's thread: the loop then contends with the writer for that mutex and the GIL on every
    answer (6 % of the loop's CPU at 200 phones in a closed loop). deque.append is atomic
    under the GIL, and the pipe is written only when the writer has said it is going to sleep.
    """

    def __init__(self) -> None:
        self._items: collections.deque = collections.deque()
        self._r, self._w = _os.pipe()
        _os.set_blocking(self._w, False)
        self._sleeping = False

    def put(self, item) -> None:
        self._items.append(item)
        if self._sleeping:
            self._sleeping = False
            try:
                _os.write(self._w, b"x")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    def take(self, limit: int) -> list:
        """What is queued now, without waiting (tests that choose the batches)."""
        batch = []
        while self._items and len(batch) < limit:
            batch.append(self._items.popleft())
        return batch

    def get_batch(self, limit: int) -> list:
        """Block (in the writer's OS thread, without the GIL) until there is work."""
        items = self._items
        while not items:
            self._sleeping = True
            if items:  # a put between the check and the flag: do not sleep on it
                break
            _os.read(self._r, 4096)
        self._sleeping = False
        batch = []
        while items and len(batch) < limit:
            batch.append(items.popleft())
        return batch

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                _os.close(fd)
            except OSError:
                pass


class Checkpointer:
    """PASSIVE WAL checkpoints every few seconds, off the commit path, on its own connection.

    PASSIVE never waits for the writer or for readers: it copies what it can and fsyncs the
    database file. Once a checkpoint has copied everything, the writer's next transaction
    starts the WAL from its beginning again, so the WAL stays a few MB.
    """

    def __init__(self, db_path, every: float) -> None:
        self.db_path = db_path
        self.every = every
        self._stop = _threading.Event()
        self._thread = _threading.Thread(target=self._run, name="hall-checkpoint", daemon=True)
        self.stats = {"checkpoints": 0, "last": None}

    def start(self) -> "Checkpointer":
        self._thread.start()
        return self

    def _run(self) -> None:
        conn = schema.connect(self.db_path)
        try:
            while not self._stop.wait(self.every):
                self.checkpoint(conn, "PASSIVE")
            self.checkpoint(conn, "TRUNCATE")  # a clean shutdown leaves an empty WAL
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection, mode: str) -> None:
        try:
            self.stats["last"] = tuple(conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone())
            self.stats["checkpoints"] += 1
        except sqlite3.Error as e:  # a full disk shows up in the writer's commits, loudly
            log.warning("WAL checkpoint failed: %s", e)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


class Pending:
    """One queued operation. `apply` mirrors its committed result in memory: the waiters
    run it on the event loop's thread, in commit order, before waking the caller, and run
    it even when the caller has stopped waiting (a timed-out call that commits later is
    still mirrored, so memory never falls behind the database)."""

    __slots__ = ("fn", "args", "apply", "result", "error", "event")

    def __init__(self, fn: Op, args: tuple, event, apply: Callable[[Any], None] | None = None) -> None:
        self.fn = fn
        self.args = args
        self.apply = apply
        self.result: Any = None
        self.error: BaseException | None = None
        self.event = event


class Writer:
    def __init__(self, db_path, waiters, synchronous: str = "FULL", max_batch: int = 512,
                 checkpoint_seconds: float = 1.0, timeout: float = 30.0) -> None:
        self.db_path = db_path
        self.checkpoint_seconds = checkpoint_seconds
        self._checkpointer: Checkpointer | None = None
        self.waiters = waiters
        self.synchronous = synchronous
        self.max_batch = max_batch
        self.timeout = timeout
        self.fault: str | None = None
        self._q = Inbox()
        self._thread = _threading.Thread(target=self._run, name="hall-writer", daemon=True)
        self._conn: sqlite3.Connection | None = None
        self.stats = {"batches": 0, "ops": 0, "max_batch_seen": 0}

    @property
    def checkpoint_stats(self) -> dict:
        """The checkpoint thread's counters ({} when SQLite checkpoints by itself)."""
        return self._checkpointer.stats if self._checkpointer is not None else {}

    def start(self, thread: bool = True) -> "Writer":
        """Open the connection and start the writer thread; thread=False leaves the
        commits to `step()`, for tests that decide which operations share a batch."""
        self._conn = schema.connect(self.db_path, self.synchronous)
        if self.checkpoint_seconds > 0:
            # Checkpoints move the WAL into the database file and fsync it. SQLite runs them
            # inside the COMMIT that crosses 1,000 WAL pages: every 1-2 s at 500 answers/s,
            # 20-40 ms each on a laptop disk, and every answer in flight waits. They run in
            # their own thread instead; commits only ever fsync the WAL.
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = Checkpointer(self.db_path, self.checkpoint_seconds).start()
        if thread:
            self._thread.start()
        return self

    def submit(self, fn: Op, *args, apply: Callable[[Any], None] | None = None) -> Pending:
        p = Pending(fn, args, self.waiters.new_event(), apply)
        self._q.put(p)
        return p

    def call(self, fn: Op, *args, apply: Callable[[Any], None] | None = None,
             timeout: float | None = None) -> Any:
        """Run fn(conn, *args) in the writer and return its result once committed.

        `apply(result)` is the only way the caller may change its in-memory mirror: it runs
        after the commit, in commit order, whether or not this call is still waiting. A call
        that waits longer than `timeout` raises StorageError; its operation may still commit
        later, and is then mirrored by `apply` all the same."""
        p = self.submit(fn, *args, apply=apply)
        if not self.waiters.wait(p.event, self.timeout if timeout is None else timeout):
            raise StorageError("写入超时")
        if p.error is not None:
            raise p.error
        return p.result

    def queued(self) -> int:
        return len(self._q)

    def step(self) -> int:
        """Commit everything queued now in the caller's thread (with start(thread=False))."""
        batch = self._q.take(self.max_batch)
        if batch:
            self._commit(self._conn, batch)
            self.waiters.fire(batch)
        return len(batch)

    def abandon(self) -> int:
        """Drop what is queued without committing it, as a SIGKILL would (tests)."""
        dropped = len(self._q.take(1 << 30))
        self.stop()
        return dropped

    def stop(self) -> None:
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join(10)
        elif self._conn is not None:
            self._conn.close()
        self._conn = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self._q.close()

    # -- the OS thread ------------------------------------------------------------
    def _run(self) -> None:
        conn = self._conn
        assert conn is not None
        stop = False
        while not stop:
            batch = self._q.get_batch(self.max_batch)
            if None in batch:
                stop = True
                batch = batch[:batch.index(None)]
            if batch:
                self._commit(conn, batch)
                self.waiters.fire(batch)
        conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[Pending]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            self._fail(batch, e)
            return
        for p in batch:
            try:
                conn.execute("SAVEPOINT op")
                p.result = p.fn(conn, *p.args)
                conn.execute("RELEASE op")
            except BaseException as e:  # an op's own refusal rolls back only that op
                if is_storage_failure(e):  # ...but a full or broken disk fails them all
                    self._abort(conn, batch, e)
                    return
                p.error = e
                try:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                except sqlite3.Error as e2:
                    self._abort(conn, batch, e2)
                    return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._abort(conn, batch, e)
            return
        self.stats["batches"] += 1
        self.stats["ops"] += len(batch)
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(batch))
        self.fault = None  # the console's sweeper relays the change

    def _abort(self, conn: sqlite3.Connection, batch: list[Pending], e: Exception) -> None:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._fail(batch, e)

    def _fail(self, batch: list[Pending], e: Exception) -> None:
        msg = f"数据库写入失败: {e}"
        log.error("commit failed for %d ops: %s", len(batch), e)
        for p in batch:
            p.error = StorageError(msg)
            p.result = None
        self.fault = msg
        if self._thread.is_alive():
            time.sleep(0.05)  # a failing disk should not spin the thread
