"""Fingerprints of a database image's pages: which pages a copy must write, and a digest
that proves a file on the stick is exactly the snapshot its marker describes."""
from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

READ_CHUNK = 1 << 20


def page_hashes(image, page_size: int) -> list[int]:
    """One 64-bit fingerprint per page (CRC-32 and Adler-32 together: zlib's C code, a few
    milliseconds per 100 MB; two unrelated 32-bit checks make a changed page that keeps
    both a 2^-64 event, not the 2^-32 of one)."""
    mv = memoryview(image)
    crc, adler = zlib.crc32, zlib.adler32
    return [(crc(mv[o:o + page_size]) << 32) | adler(mv[o:o + page_size])
            for o in range(0, len(mv), page_size)]


def file_hashes(path: Path, page_size: int) -> list[int] | None:
    """The fingerprints of a file already on the stick (None if it is missing or not whole
    pages): a restarted copier then writes only what differs, not the whole file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size % page_size:
        return None
    out: list[int] = []
    chunk = max(page_size, READ_CHUNK - READ_CHUNK % page_size)
    with open(path, "rb") as f:
        while True:
            buf = f.read(chunk)
            if not buf:
                break
            out += page_hashes(buf, page_size)
    return out


def digest(hashes: list[int]) -> str:
    return hashlib.blake2b(struct.pack(f">{len(hashes)}Q", *hashes), digest_size=16).hexdigest()


def changed_runs(new: list[int], old: list[int] | None) -> list[tuple[int, int]]:
    """[first page, page count) runs where `new` differs from `old` (everything if unknown):
    adjacent pages go out in one write."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, h in enumerate(new):
        differs = old is None or i >= len(old) or old[i] != h
        if differs and start is None:
            start = i
        elif not differs and start is not None:
            runs.append((start, i - start))
            start = None
    if start is not None:
        runs.append((start, len(new) - start))
    return runs
