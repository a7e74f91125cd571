"""Text assets (HTML, JS, CSS) served gzip-compressed, compressed once and kept.

On a crowded room WiFi every phone fetches the app shell at the same moment; uncompressed
that was ≈125 KB a phone, gzipped ≈35 KB. Each file is compressed at its first request
(level 9, no timestamp in the header, so the bytes are the same on every laptop) and kept
in memory until the file changes on disk. Every response carries `Vary: Accept-Encoding`
and an ETag of the representation sent (the gzip one differs), so a revalidation with
If-None-Match costs a 304 and no body.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flask import Response, abort, request

# Only text compresses; images are content-addressed PNG/JPEG served elsewhere.
COMPRESSIBLE = {".html", ".js", ".css", ".json", ".svg", ".txt"}


@dataclass(frozen=True)
class Asset:
    stamp: tuple            # (mtime_ns, size) of the file these bytes came from
    raw: bytes
    gz: bytes | None        # None when compressing does not pay
    etag: str               # of the raw bytes; the gzip representation is etag + "-gz"
    mimetype: str


_cache: dict[tuple, Asset] = {}
_lock = threading.Lock()


def load(path: Path, variant: Callable[[bytes], bytes] | None = None) -> Asset:
    """The file's bytes (passed through ``variant``, a module-level function, if given)."""
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    key = (path, variant)
    a = _cache.get(key)
    if a is not None and a.stamp == stamp:
        return a
    raw = path.read_bytes()
    if variant is not None:
        raw = variant(raw)
    gz = None
    if path.suffix in COMPRESSIBLE:
        z = gzip.compress(raw, compresslevel=9, mtime=0)
        gz = z if len(z) < len(raw) else None
    mt = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if mt.startswith("text/") or mt == "application/javascript":
        mt += "; charset=utf-8"
    a = Asset(stamp, raw, gz, hashlib.sha256(raw).hexdigest()[:20], mt)
    with _lock:
        _cache[key] = a
    return a


def _accepts_gzip() -> bool:
    for part in request.headers.get("Accept-Encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            return True
    return False


def send(folder: Path, name: str, cache_control: str = "no-cache",
         variant: Callable[[bytes], bytes] | None = None) -> Response:
    """The file ``name`` under ``folder`` (never outside it), compressed when the client
    takes gzip. ``no-cache`` = revalidate every time (a new version is seen at once)."""
    root = folder.resolve()
    try:
        path = (root / name).resolve()
        if root not in path.parents or not path.is_file():
            abort(404)
        a = load(path, variant)
    except (OSError, ValueError):        # NUL bytes, over-long names, a file that just went away
        abort(404)
    zipped = a.gz is not None and _accepts_gzip()
    etag = f'"{a.etag}-gz"' if zipped else f'"{a.etag}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return Response(status=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return Response(a.gz if zipped else a.raw, content_type=a.mimetype, headers=headers)
