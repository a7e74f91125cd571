"""The group-commit writer in threading mode: grouping, per-op rollback, failed commits."""
import sqlite3
import threading

import pytest

from hall_server.db import schema, waiters
from hall_server.db.writer import StorageError, Writer


def _insert(conn, k, v):
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (k, v))
    return k


@pytest.fixture
def writer(tmp_path):
    schema.open_db(tmp_path / "w.db").conn.close()
    w = Writer(tmp_path / "w.db", waiters.ThreadWaiters()).start()
    yield w
    w.stop()


def test_ops_are_committed_before_call_returns(writer, tmp_path):
    assert writer.call(_insert, "a", "1") == "a"
    other = sqlite3.connect(tmp_path / "w.db")
    assert other.execute("SELECT value FROM meta WHERE key='a'").fetchone() == ("1",)


def test_concurrent_ops_share_commits(writer):
    n = 400
    barrier = threading.Barrier(50)

    def worker(i):
        barrier.wait()
        for j in range(n // 50):
            writer.call(_insert, f"k{i}-{j}", "v")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.stats["ops"] == n
    assert writer.stats["batches"] < n  # grouped: fewer commits (fsyncs) than operations


def test_a_failing_op_rolls_back_alone(writer, tmp_path):
    pendings = [writer.submit(_insert, "x", "1"), writer.submit(_insert, "x", "2"), writer.submit(_insert, "y", "3")]
    for p in pendings:
        writer.waiters.wait(p.event, 10)
    assert pendings[0].error is None and pendings[2].error is None
    assert isinstance(pendings[1].error, sqlite3.IntegrityError)
    other = sqlite3.connect(tmp_path / "w.db")
    assert dict(other.execute("SELECT key, value FROM meta WHERE key IN ('x','y')").fetchall()) == {"x": "1", "y": "3"}


def test_full_disk_fails_the_batch_loudly_and_recovers(writer, tmp_path):
    writer.call(_insert, "before", "1")
    pages = writer.call(lambda conn: conn.execute("PRAGMA page_count").fetchone()[0])
    writer.call(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}"))
    with pytest.raises(StorageError):
        writer.call(_insert, "big", "x" * 200_000)
    assert writer.fault and "写入失败" in writer.fault
    writer.call(lambda conn: conn.execute("PRAGMA max_page_count = 1000000"))
    writer.call(_insert, "after", "1")
    assert writer.fault is None
    other = sqlite3.connect(tmp_path / "w.db")
    keys = {k for (k,) in other.execute("SELECT key FROM meta")}
    assert {"before", "after"} <= keys and "big" not in keys


def test_inbox_delivers_every_item_exactly_once_under_racing_producers():
    """The writer's inbox has no lock: 8 threads put 20,000 items while a consumer that
    sleeps whenever the inbox is empty takes them; none lost, none twice, no hang."""
    import time

    from hall_server.db.writer import Inbox

    inbox, got, done = Inbox(), [], threading.Event()

    def consume():
        while True:
            batch = inbox.get_batch(64)
            if None in batch:
                got.extend(batch[:batch.index(None)])
                break
            got.extend(batch)
        done.set()

    def produce(k):
        for i in range(2500):
            inbox.put((k, i))
            if i % 97 == 0:
                time.sleep(0.0005)  # let the consumer drain and go to sleep now and then

    consumer = threading.Thread(target=consume)
    consumer.start()
    producers = [threading.Thread(target=produce, args=(k,)) for k in range(8)]
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    time.sleep(0.05)
    inbox.put(None)
    assert done.wait(10), "the consumer slept through a put"
    assert len(got) == 20000 and len(set(got)) == 20000
    for k in range(8):  # each producer's items in its own order
        assert [i for kk, i in got if kk == k] == list(range(2500))
    inbox.close()


def test_writer_wakes_for_an_op_after_sleeping(writer):
    import time

    for k in range(20):
        time.sleep(0.01)  # the writer is asleep on its pipe by now
        t = time.perf_counter()
        assert writer.call(_insert, f"w{k}", "1") == f"w{k}"
        assert time.perf_counter() - t < 5


def test_wal_is_checkpointed_off_the_commit_path(tmp_path):
    """SQLite's own checkpoints are off on the writer's connection; the checkpointer thread
    copies the WAL into the database, so the WAL restarts instead of growing all exam."""
    import time

    db = tmp_path / "ck.db"
    schema.open_db(db).conn.close()
    w = Writer(db, waiters.ThreadWaiters(), checkpoint_seconds=0.1).start()
    try:
        assert w.call(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0
        for k in range(3000):  # far past SQLite's 1,000-page autocheckpoint
            w.call(_insert, f"k{k}", "x" * 200)
        deadline = time.time() + 5
        while time.time() < deadline:
            last = w.checkpoint_stats["last"]
            if last and last[1] > 0 and last[1] == last[2]:
                break
            time.sleep(0.05)
        busy, log_frames, done = w.checkpoint_stats["last"]
        assert log_frames > 0 and done == log_frames, "every WAL frame copied into the database"
        wal = db.with_name(db.name + "-wal")
        big = wal.stat().st_size
        for burst in range(10):  # as many again, with pauses in which checkpoints complete
            for k in range(300):
                w.call(_insert, f"after{burst}-{k}", "x" * 200)
            time.sleep(0.25)
        # Without checkpoints the WAL would have doubled; with them new commits reuse it.
        assert wal.stat().st_size < 1.3 * big
    finally:
        w.stop()
    assert not wal.exists() or wal.stat().st_size == 0  # a clean stop truncates the WAL
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE 'k%' OR key LIKE 'after%'").fetchone()[0] == 6000
