"""Files the database names but does not hold (the proctoring photos, content-addressed:
photos/<aa>/<sha256>.jpg, written and fsynced before any row names them). The copier
copies each new one to the stick after the snapshot and before the marker that names the
copy, so every photo a copy names is on the stick; takeover puts them back."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..durable import fsync_dir


def _names(root: Path) -> set[str]:
    """'aa/name' of every finished file under root (temporary '.…' files are not)."""
    out = set()
    try:
        subs = list(os.scandir(root))
    except FileNotFoundError:
        return out
    for sub in subs:
        if sub.is_dir():
            out.update(f"{sub.name}/{f.name}" for f in os.scandir(sub.path)
                       if f.is_file() and not f.name.startswith("."))
    return out


def copy_new(src: Path, dest: Path, known: set[str] | None) -> tuple[set[str], int]:
    """Copy the files of src not yet in dest (temp, fsync, rename; each folder fsynced once).
    `known`: what dest holds, if known (else it is listed). Returns (known now, copied)."""
    have = _names(dest) if known is None else known
    new = sorted(_names(src) - have)
    touched = set()
    for name in new:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name("." + target.name + ".tmp")
        shutil.copyfile(src / name, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        touched.add(target.parent)
    for d in touched:
        fsync_dir(d)
    if touched:
        fsync_dir(dest)
    return have | set(new), len(new)
