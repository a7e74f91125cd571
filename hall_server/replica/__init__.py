"""Continuous replication of the site database to a second disk or USB stick, and the spare
laptop's take-over from it (docs/takeover.md).

While `hall serve` runs with `[replica] path` set, a child process (`copier.py`, started
and watched by `supervisor.py`) copies the database to that folder again and again. Each
copy is a consistent snapshot, read in one SQLite read transaction (WAL: the writer is
never blocked), and written as two alternating files (`store.py`): only the pages that
differ are written into the older file, which is fsynced before the marker `CURRENT.json`
names it (write to a temp file, fsync, rename). So the folder always holds one complete,
verified SQLite file and says how far it got: `taken_at` is the exam time before which
every committed (so every acknowledged) change is in it.

A process, not a thread: a snapshot of a 128 MB database held the GIL for 73 ms in the
server's process (docs/takeover.md, "Measured"); phones must never wait on a copy.

`hall takeover --from FOLDER` (`takeover.py`) starts the spare from the newest verified
copy, pauses the sittings that were running from the copy's time on (nobody loses the
outage), and serves at the same address; phones reconnect and replay what they hold.
"""
