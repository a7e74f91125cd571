"""Site bundles (考点数据包): signed by the city office, papers sealed per sitting.

File layout (all integers big-endian)::

    MAGIC            b"HALLBNDL\\x00\\x01\\r\\n"   (12 bytes)
    header_len       u32
    header           canonical JSON (UTF-8, sorted keys, no spaces): the manifest
    signature        64 bytes Ed25519 by the central key over MAGIC || header_len || header
    body             the members, back to back, exactly as the manifest lists them

The manifest lists every member with offset, length and SHA-256, and the body length, so
the signature covers every byte of the file: any flipped, missing or extra byte is refused.

Members: ``plan`` (zlib canonical JSON: site, exam, rooms, sittings, candidates, staff,
site_key, demo) and one ``sitting/<sitting_id>`` per sitting: AES-256-GCM over zlib canonical
JSON {"papers", "keys", "media"}, key = scrypt(release code, per-sitting salt), associated data
= bundle_id|site_no|sitting_id. The release code (放行码) is printed for the county office only.

Hall side: ``read_bundle`` -> ``open_sitting`` per released sitting -> ``bundle_to_plan``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import struct
import zlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .keys import key_id, load_private, load_public, public_raw

MAGIC = b"HALLBNDL\x00\x01\r\n"
FORMAT = "hall-bundle/1"
SIG_LEN = 64
MAX_HEADER = 16 * 1024 * 1024
KDF_DEFAULT = {"name": "scrypt", "n": 2 ** 15, "r": 8, "p": 1}

# Release codes: 12 characters (11 random + 1 check), typed as XXXX-XXXX-XXXX.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"     # no 0/O, 1/I/L
CODE_LEN = 12


class BundleError(Exception):
    """A bundle or release code is refused; the message is for the chief examiner (Chinese)."""


def canonical(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------- release codes

def check_char(body: str) -> str:
    total = sum((i + 1) * CODE_ALPHABET.index(ch) for i, ch in enumerate(body))
    return CODE_ALPHABET[total % len(CODE_ALPHABET)]


def new_release_code() -> str:
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN - 1))
    code = body + check_char(body)
    return "-".join(code[i:i + 4] for i in range(0, CODE_LEN, 4))


def normalize_code(code: str, label: str = "放行码") -> str:
    """Accepts lower case, spaces and dashes; refuses typos the check character catches."""
    c = "".join(ch for ch in str(code).upper() if ch not in " -_\t")
    if len(c) != CODE_LEN:
        raise BundleError(f"{label}应为{CODE_LEN}位（如 ABCD-EFGH-JKMN），实际输入了{len(c)}位")
    bad = sorted({ch for ch in c if ch not in CODE_ALPHABET})
    if bad:
        raise BundleError(f"{label}中含有不会出现的字符：{' '.join(bad)}（{label}不含 0、O、1、I、L）")
    if check_char(c[:-1]) != c[-1]:
        raise BundleError(f"{label}输入有误（校验位不符），请逐位核对")
    return c


def _kdf(code: str, salt: bytes, kdf: dict, label: str = "放行码") -> bytes:
    if kdf.get("name") != "scrypt":
        raise BundleError("数据包使用了不支持的密钥派生算法")
    return Scrypt(salt=salt, length=32, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"])).derive(
        normalize_code(code, label).encode("ascii"))


def _aad(bundle_id: str, site_no: str, sitting_id: str) -> bytes:
    return f"{FORMAT}|{bundle_id}|{site_no}|{sitting_id}".encode()


# ---------------------------------------------------------------- writing (central)

def seal_sitting(content: dict, code: str, *, bundle_id: str, site_no: str, sitting_id: str,
                 kdf: dict | None = None) -> tuple[dict, bytes]:
    """Encrypt {"papers", "keys", "media"} of one sitting; returns (member meta, ciphertext)."""
    kdf = dict(kdf or KDF_DEFAULT)
    salt, nonce = os.urandom(16), os.urandom(12)
    media = {k: base64.b64encode(v).decode("ascii") for k, v in content.get("media", {}).items()}
    plain = zlib.compress(canonical({"sitting_id": sitting_id, "papers": content["papers"],
                                     "keys": content["keys"], "media": media}), 6)
    ct = AESGCM(_kdf(code, salt, kdf)).encrypt(nonce, plain, _aad(bundle_id, site_no, sitting_id))
    meta = {"name": f"sitting/{sitting_id}", "sitting_id": sitting_id, "kdf": kdf,
            "salt": salt.hex(), "nonce": nonce.hex()}
    return meta, ct


def write_bundle(path: str | Path, *, public_plan: dict, sealed: list[tuple[dict, bytes]],
                 bundle_id: str, central_private_key, created_at: str, extra: dict | None = None,
                 activation_code: str | None = None, kdf: dict | None = None) -> dict:
    """Assemble and sign the bundle file. ``public_plan`` is the plan without papers/keys/media.

    With ``activation_code`` the plan member (roster with ID numbers, staff, the site's private
    key) is encrypted too, so a copied bundle reveals nothing without the code, which travels
    apart from the bundle on the accounts sheet."""
    central = load_private(central_private_key)
    plan_blob = zlib.compress(canonical(public_plan), 6)
    if activation_code is None:
        members: list[tuple[dict, bytes]] = [({"name": "plan"}, plan_blob)]
    else:
        kdf = dict(kdf or KDF_DEFAULT)
        salt, nonce = os.urandom(16), os.urandom(12)
        ct = AESGCM(_kdf(activation_code, salt, kdf)).encrypt(
            nonce, plan_blob, _aad(bundle_id, public_plan["site"]["site_no"], "plan"))
        members = [({"name": "plan", "sealed": True, "kdf": kdf, "salt": salt.hex(), "nonce": nonce.hex()}, ct)]
    members += sealed
    body, listing, offset = [], [], 0
    for meta, data in members:
        m = dict(meta, offset=offset, length=len(data), sha256=hashlib.sha256(data).hexdigest())
        listing.append(m)
        body.append(data)
        offset += len(data)
    site = public_plan["site"]
    manifest = {
        "format": FORMAT,
        "bundle_id": bundle_id,
        "created_at": created_at,
        "site_no": site["site_no"],
        "site_name": site["name"],
        "district": site["district"],
        "central_key_id": key_id(public_raw(central)),
        "site_public_key": public_plan["site_key"]["public"],
        "sittings": [s["sitting_id"] for s in public_plan["sittings"]],
        "candidate_count": len(public_plan["candidates"]),
        "demo": bool(public_plan.get("demo")),
        "members": listing,
        "body_length": offset,
        **(extra or {}),
    }
    header = canonical(manifest)
    signed = MAGIC + struct.pack(">I", len(header)) + header
    sig = central.sign(signed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(signed)
        f.write(sig)
        for b in body:
            f.write(b)
    os.replace(tmp, path)
    return manifest


# ---------------------------------------------------------------- reading (hall)

def read_bundle(path: str | Path | bytes, central_public_key, expected_site_no: str | None = None,
                activation_code: str | None = None) -> tuple[dict, dict]:
    """Verify a bundle and return (manifest, sealed).

    ``manifest`` is the signed manifest plus ``manifest["plan"]``: the public part of the site
    plan (site, exam, rooms, sittings, candidates, staff, site_key, demo). ``sealed`` maps
    sitting_id -> sealed entry for ``open_sitting``. Raises BundleError on anything wrong;
    nothing is returned half-verified.
    """
    try:
        data = path if isinstance(path, (bytes, bytearray)) else Path(path).read_bytes()
    except OSError as e:
        raise BundleError(f"无法读取数据包：{e}") from e
    data = bytes(data)
    try:
        pub = load_public(central_public_key)
    except Exception as e:
        raise BundleError("市定考办公钥无效，无法校验数据包") from e
    if len(data) < len(MAGIC) + 4 or data[:len(MAGIC)] != MAGIC:
        if data[:len(MAGIC) - 4] == MAGIC[:-4] or len(data) < len(MAGIC) + 4:
            raise BundleError("数据包已损坏或被截断（文件头不完整）")
        raise BundleError("这不是考点数据包（文件格式不符）")
    (hlen,) = struct.unpack(">I", data[len(MAGIC):len(MAGIC) + 4])
    hstart = len(MAGIC) + 4
    if hlen > MAX_HEADER or hstart + hlen + SIG_LEN > len(data):
        raise BundleError("数据包已损坏或被截断（清单不完整）")
    signed = data[:hstart + hlen]
    sig = data[hstart + hlen:hstart + hlen + SIG_LEN]
    try:
        pub.verify(sig, signed)
    except InvalidSignature:
        raise BundleError("数据包签名校验失败：文件已被篡改，或不是由市定考办签发（与本机的市定考办公钥不符）") from None
    try:
        manifest = json.loads(data[hstart:hstart + hlen].decode("utf-8"))
        return _unpack(manifest, data[hstart + hlen + SIG_LEN:], pub, expected_site_no, activation_code)
    except BundleError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BundleError(f"数据包结构异常，无法读取（{type(e).__name__}）") from e


def _unpack(manifest: dict, body: bytes, pub, expected_site_no, activation_code=None) -> tuple[dict, dict]:
    if manifest.get("format") != FORMAT:
        raise BundleError(f"不支持的数据包版本：{manifest.get('format')}")
    if manifest.get("central_key_id") != key_id(public_raw(pub)):
        raise BundleError("数据包签发密钥与本机的市定考办公钥不一致")
    if len(body) < manifest["body_length"]:
        raise BundleError(f"数据包被截断：缺少{manifest['body_length'] - len(body)}字节，请重新拷贝")
    if len(body) > manifest["body_length"]:
        raise BundleError("数据包末尾有多余数据，已拒绝")
    if expected_site_no is not None and str(manifest["site_no"]) != str(expected_site_no):
        raise BundleError(f"此数据包属于考点{manifest['site_no']}（{manifest['site_name']}），"
                          f"不是本考点（{expected_site_no}），已拒绝导入")
    pos = 0
    blobs: dict[str, bytes] = {}
    for m in manifest["members"]:
        if m["offset"] != pos:
            raise BundleError("数据包结构异常（成员不连续）")
        blob = body[pos:pos + m["length"]]
        if hashlib.sha256(blob).hexdigest() != m["sha256"]:
            raise BundleError(f"数据包内容校验失败（{m['name']}）：文件已损坏或被篡改")
        blobs[m["name"]] = blob
        pos += m["length"]
    if pos != len(body):
        raise BundleError("数据包结构异常（长度不符）")
    plan_meta = next((m for m in manifest["members"] if m["name"] == "plan"), {})
    plan_blob = blobs.get("plan", b"")
    if plan_meta.get("sealed"):
        if not activation_code:
            raise BundleError("此数据包的考生名单与考点密钥已加密：请输入随账号单下发的激活码")
        key = _kdf(activation_code, bytes.fromhex(plan_meta["salt"]), plan_meta["kdf"], "激活码")
        try:
            plan_blob = AESGCM(key).decrypt(bytes.fromhex(plan_meta["nonce"]), plan_blob,
                                            _aad(manifest["bundle_id"], manifest["site_no"], "plan"))
        except InvalidTag:
            raise BundleError("激活码不正确，请核对账号单上的激活码") from None
    try:
        plan = json.loads(zlib.decompress(plan_blob).decode("utf-8"))
    except (KeyError, zlib.error, ValueError) as e:
        raise BundleError("数据包中的考点计划无法读取") from e
    if plan["site"]["site_no"] != manifest["site_no"]:
        raise BundleError("数据包内部不一致（考点编号）")
    sealed = {}
    for m in manifest["members"]:
        if m["name"].startswith("sitting/"):
            sid = m["sitting_id"]
            sealed[sid] = {"sitting_id": sid, "site_no": manifest["site_no"],
                           "bundle_id": manifest["bundle_id"], "kdf": m["kdf"],
                           "salt": m["salt"], "nonce": m["nonce"], "ciphertext": blobs[m["name"]]}
    if set(sealed) != {s["sitting_id"] for s in plan["sittings"]}:
        raise BundleError("数据包内部不一致（场次与试卷不对应）")
    manifest = dict(manifest, plan=plan)
    return manifest, sealed


def open_sitting(sealed_entry: dict, release_code: str) -> dict:
    """Decrypt one sitting with its release code -> {"papers", "keys", "media" (bytes)}.
    Raises BundleError on a mistyped or wrong code."""
    key = _kdf(release_code, bytes.fromhex(sealed_entry["salt"]), sealed_entry["kdf"])
    try:
        plain = AESGCM(key).decrypt(bytes.fromhex(sealed_entry["nonce"]), sealed_entry["ciphertext"],
                                    _aad(sealed_entry["bundle_id"], sealed_entry["site_no"],
                                         sealed_entry["sitting_id"]))
    except InvalidTag:
        raise BundleError(f"放行码不正确（场次 {sealed_entry['sitting_id']}），请核对后重新输入") from None
    content = json.loads(zlib.decompress(plain).decode("utf-8"))
    if content.get("sitting_id") != sealed_entry["sitting_id"]:
        raise BundleError("试卷数据与场次不符")
    return {"papers": content["papers"], "keys": content["keys"],
            "media": {k: base64.b64decode(v) for k, v in content.get("media", {}).items()}}


def bundle_to_plan(manifest: dict, opened_sittings: dict[str, dict]) -> dict:
    """Site plan (docs/site-plan.md) from a verified manifest; papers, keys and media only for
    the sittings in ``opened_sittings`` (sitting_id -> open_sitting() result)."""
    plan = json.loads(json.dumps(manifest["plan"]))          # deep copy
    sitting_of = {c["ticket"]: c["sitting_id"] for c in plan["candidates"]}
    papers, keys, media = {}, {}, {}
    for sid, opened in opened_sittings.items():
        if sid not in manifest["sittings"]:
            raise BundleError(f"场次{sid}不属于此数据包")
        for t, p in opened["papers"].items():
            if sitting_of.get(t) != sid:
                raise BundleError(f"试卷{t}不属于场次{sid}")
            papers[t] = p
            keys[t] = opened["keys"][t]
        expected = {t for t, x in sitting_of.items() if x == sid}
        if set(opened["papers"]) != expected or set(opened["keys"]) != expected:
            raise BundleError(f"场次{sid}的试卷与考生名单不一致")
        media.update(opened.get("media", {}))
    plan["papers"], plan["keys"], plan["media"] = papers, keys, media
    return plan


def dump_sealed(entry: dict) -> str:
    """A sealed entry as JSON text (e.g. to keep in the hall database until release)."""
    return json.dumps(dict(entry, ciphertext=base64.b64encode(entry["ciphertext"]).decode("ascii")),
                      sort_keys=True)


def load_sealed(text: str) -> dict:
    entry = json.loads(text)
    entry["ciphertext"] = base64.b64decode(entry["ciphertext"])
    return entry


def normalize_seal(text: str) -> str:
    """A 放行码信封's seal number as typed at the site ("No. 0042-17" -> "004217"): digits only,
    the form provisioning prints and the bundle carries."""
    return "".join(ch for ch in str(text) if ch in "0123456789")
