"""Files that must survive a power cut or a USB stick pulled right after: the data is
fsynced, renamed over the old name, and then the directory is fsynced, because a rename
is only on disk once its directory is (the camera's photos, the replica's marker, the
result bundle in the outbox and on the stick)."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, tmp: Path | None = None) -> None:
    """`path` holds `data` whole, on disk, when this returns; never a half-written file.
    `tmp`: the temporary name (default `<name>.tmp`; give a unique one when two writers
    may write the same path at once)."""
    tmp = tmp or path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
