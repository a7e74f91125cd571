"""Photo files: checked, content-addressed, durable before anything refers to them.

A file is written to a temporary name, fsynced, renamed to photos/<aa>/<sha256>.jpg and
the directory fsynced; only then may a database row name it (the writer commits the row
after this returns). A crash in between leaves at most an unnamed file, never a row
without its photo. Runs off the event loop (tpool): fsync and decoding block.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..durable import fsync_dir, write_atomic


class PhotoError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class Photo:
    sha256: str
    size: int
    width: int
    height: int


def check_jpeg(data: bytes, max_bytes: int, max_side: int) -> Photo:
    """A real JPEG, within the limits; else PhotoError. Decodes the whole image (a
    truncated or corrupt file is refused here, not later in the face worker)."""
    from PIL import Image

    if len(data) > max_bytes:
        raise PhotoError("too_large", f"照片太大（{len(data)} 字节，上限 {max_bytes}）")
    if not data.startswith(b"\xff\xd8\xff"):
        raise PhotoError("not_image", "不是 JPEG 照片")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "JPEG":
                raise PhotoError("not_image", "不是 JPEG 照片")
            w, h = im.size
            if max(w, h) > max_side or min(w, h) < 16:
                raise PhotoError("bad_size", f"照片尺寸 {w}x{h} 不符合要求（最长边不超过 {max_side} 像素）")
            im.load()
    except PhotoError:
        raise
    except Exception:
        raise PhotoError("not_image", "照片无法解码") from None
    return Photo(hashlib.sha256(data).hexdigest(), len(data), w, h)


def path_for(root: Path, sha256: str) -> Path:
    return Path(root) / sha256[:2] / f"{sha256}.jpg"


def store(root: Path, data: bytes, sha256: str) -> Path:
    """Durably store `data` under its hash (idempotent: an existing file is kept)."""
    path = path_for(root, sha256)
    if path.exists() and path.stat().st_size == len(data):
        return path
    new_dir = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    if new_dir:
        fsync_dir(path.parent.parent)
    # A name of its own: the same photo may arrive from two phones at the same moment, and
    # each must write a whole file before its rename (a shared name mixed them: bench/proctor.py).
    write_atomic(path, data, tmp=path.with_name(f".{sha256}.{os.getpid()}.{secrets.token_hex(6)}.tmp"))
    return path


def read(root: Path, sha256: str) -> bytes | None:
    try:
        return path_for(root, sha256).read_bytes()
    except FileNotFoundError:
        return None


def thumbnail(data: bytes, px: int, quality: int = 60) -> bytes:
    """A small JPEG for the result bundle and the room list."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        im.thumbnail((px, px))
        out = io.BytesIO()
        im.save(out, "JPEG", quality=quality, optimize=True)
        return out.getvalue()
