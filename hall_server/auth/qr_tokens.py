"""Room QR tokens: site, sitting, issue and expiry times, signed with the site's Ed25519 key.

The token rides in the QR URL (/r/<token>), so it is compact: base64url(payload) "."
base64url(signature). A token is bound to one sitting of one room, which also names the
room; it expires when the sitting is over, and with rotation on, a code is only honoured
for rotate + grace seconds after it was shown, so a photo sent out of the room is useless.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAX_TOKEN_LEN = 400


class TokenError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RoomToken:
    site_no: str
    sitting_id: str
    issued_at: int
    expires_at: int


def _b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def private_key(b64: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(b64))


def public_key(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64))


def issue(key: Ed25519PrivateKey, site_no: str, sitting_id: str, issued_at: int, expires_at: int) -> str:
    payload = json.dumps([1, site_no, sitting_id, int(issued_at), int(expires_at)],
                         separators=(",", ":"), ensure_ascii=False).encode()
    return _b64e(payload) + "." + _b64e(key.sign(payload))


def verify(key: Ed25519PublicKey, token, site_no: str, now: float,
           rotate_s: int = 0, grace_s: int = 0) -> RoomToken:
    """The token's claims, or TokenError with a message a candidate can act on."""
    bad = TokenError("bad_token", "二维码无效，请重新扫描本考场的二维码")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LEN or token.count(".") != 1:
        raise bad
    p64, s64 = token.split(".")
    try:
        payload, sig = _b64d(p64), _b64d(s64)
        key.verify(sig, payload)
        v, t_site, sitting, iat, exp = json.loads(payload)
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        raise bad from None
    if v != 1 or not isinstance(sitting, str) or not isinstance(iat, int) or not isinstance(exp, int):
        raise bad
    if t_site != site_no:
        raise TokenError("bad_token", "这是其他考点的二维码，请扫描本考场的二维码")
    if now > exp:
        raise TokenError("token_expired", "二维码已过期，请扫描考场屏幕上的最新二维码")
    if rotate_s and now > iat + rotate_s + grace_s:
        raise TokenError("token_expired", "二维码已过期，请扫描考场屏幕上的最新二维码")
    return RoomToken(t_site, sitting, iat, exp)
