"""Short room codes: what a candidate types when the QR code will not scan.

The QR carries a signed token (/r/<token>, ~160 characters). Typed by hand that is hopeless,
so each sitting also has a 4-character code printed large on its poster: the candidate types
the laptop's address (http://192.168.1.23:8080), then the code, and /k/<code> hands out the
same fresh token the QR would. A code is as room-bound as the poster on the room's wall;
the login still needs the ticket and ID digits of a candidate of that room and sitting.
Codes are derived from the site key (the same on the console, the poster and any reprint)
and avoid look-alike characters (no 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G).
"""
from __future__ import annotations

import hashlib
import hmac

ALPHABET = "ACDEFHJKMNPRTUVWXY3479"
CODE_LENGTH = 4            # 22^4 = 234,256 codes; wrong guesses are rate-limited per address


def secret_of(site_key_private: str) -> bytes:
    return hashlib.sha256(b"hall-room-code|" + site_key_private.encode()).digest()


def _code(secret: bytes, sitting_id: str, salt: int) -> str:
    digest = hmac.new(secret, f"{sitting_id}#{salt}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(CODE_LENGTH):
        n, r = divmod(n, len(ALPHABET))
        out.append(ALPHABET[r])
    return "".join(out)


def codes_for(secret: bytes, sitting_ids) -> dict[str, str]:
    """{sitting_id: code} for every sitting of the site, unique (a collision moves the later
    sitting, in id order, to its next salt), so the result depends only on the ids."""
    taken: dict[str, str] = {}
    out: dict[str, str] = {}
    for sid in sorted(sitting_ids):
        salt = 0
        code = _code(secret, sid, salt)
        while code in taken:
            salt += 1
            code = _code(secret, sid, salt)
        taken[code] = sid
        out[sid] = code
    return out


def normalize(text: str) -> str:
    """What a person typed: case, spaces and dashes do not matter."""
    return "".join(ch for ch in str(text or "").upper() if ch.isalnum())[: CODE_LENGTH * 2]
