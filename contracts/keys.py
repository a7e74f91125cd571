"""Ed25519 keys (cryptography library): the central authority's and each site's."""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def private_raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(**_RAW)


def key_id(public: bytes) -> str:
    """Short fingerprint of a public key, printed on sheets and in manifests."""
    return hashlib.sha256(public).hexdigest()[:16]


def site_keypair(seed: bytes | None = None) -> dict:
    """{"private": b64 raw 32 bytes, "public": b64} as the site plan wants it.
    ``seed`` makes it deterministic (demo only); otherwise fresh from os.urandom."""
    raw = hashlib.sha256(b"hall-site-key\0" + seed).digest() if seed is not None else os.urandom(32)
    key = Ed25519PrivateKey.from_private_bytes(raw)
    return {"private": b64(raw), "public": b64(public_raw(key))}


CENTRAL_PRIVATE = "central_ed25519.key"
CENTRAL_PUBLIC = "central_ed25519.pub"


def keygen(out_dir: str | Path, overwrite: bool = False) -> tuple[Path, Path]:
    """Write the central keypair as base64 raw keys (private file mode 0600)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    priv_p, pub_p = out / CENTRAL_PRIVATE, out / CENTRAL_PUBLIC
    if priv_p.exists() and not overwrite:
        raise FileExistsError(f"{priv_p} 已存在；如确需覆盖请加 --force")
    key = Ed25519PrivateKey.generate()
    fd = os.open(priv_p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(b64(private_raw(key)) + "\n")
    pub_p.write_text(b64(public_raw(key)) + "\n")
    return priv_p, pub_p


def _read_b64(path_or_value: str | Path | bytes) -> bytes:
    if isinstance(path_or_value, bytes):
        return path_or_value if len(path_or_value) == 32 else base64.b64decode(path_or_value)
    p = Path(path_or_value)
    text = p.read_text().strip() if p.exists() else str(path_or_value).strip()
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("Ed25519 密钥应为32字节")
    return raw


def load_private(path_or_value: str | Path | bytes) -> Ed25519PrivateKey:
    if isinstance(path_or_value, Ed25519PrivateKey):
        return path_or_value
    return Ed25519PrivateKey.from_private_bytes(_read_b64(path_or_value))


def load_public(path_or_value) -> Ed25519PublicKey:
    if isinstance(path_or_value, Ed25519PublicKey):
        return path_or_value
    if isinstance(path_or_value, Ed25519PrivateKey):
        return path_or_value.public_key()
    return Ed25519PublicKey.from_public_bytes(_read_b64(path_or_value))


def sign_b64(private_key_b64: str, message: bytes) -> str:
    """A site's (or the centre's) Ed25519 signature over ``message``, base64."""
    return b64(Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key_b64)).sign(message))


def signed_by(public_key_b64: str, sig_b64, message: bytes) -> bool:
    """Whether ``sig_b64`` is that key's signature over ``message``; False, never an
    exception, for anything malformed (the signature comes from the network)."""
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(
            base64.b64decode(str(sig_b64).encode("ascii"), validate=True), message)
        return True
    except (InvalidSignature, ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        return False


class Refused(Exception):
    """The centre's refusal of something a site signed: ``code`` is stable ASCII,
    ``message_zh`` is shown to the county office as is, ``status`` is the HTTP status."""

    def __init__(self, status: int, code: str, message_zh: str):
        super().__init__(f"{code}: {message_zh}")
        self.status, self.code, self.message_zh = status, code, message_zh
