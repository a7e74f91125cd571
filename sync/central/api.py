"""The upload routes (protocol: docs/sync.md): authenticated by the site's signature on the
open and by the bundle's own signature at ingest, never by the admin token."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from contracts.result_bundle import BundleRejected
from contracts.upload_proof import OpenRefused
from .uploads import UploadBusy

bp = Blueprint("api", __name__)
GONE = "上传会话不存在（已过期或已完成），请重新开始"


def _store():
    return current_app.extensions["hall_store"]


def _hook(stage: str, **info) -> None:
    """Tests only: a callable(stage, **info) at defined points (config ``fault_hook``)."""
    hook = current_app.config["CENTRAL"].get("fault_hook")
    if hook:
        hook(stage, **info)


def err(status: int, code: str, message: str, **extra):
    return jsonify({"ok": False, "status": "rejected" if status == 422 else "error",
                    "error": {"code": code, "message": message, **extra}}), status


def _outcome(status: str, receipt: dict):
    return jsonify({"ok": True, "status": status, "duplicate": status == "duplicate", "receipt": receipt}), 200


def _rejected(e: BundleRejected):
    return err(422, e.code, e.message_zh, **e.extra)


@bp.get("/api/health")
def health():
    return jsonify({"ok": True, "now": time.time(), "centre_public_key": _store().centre_public_b64,
                    "max_chunk": current_app.config["CENTRAL"]["max_chunk"]})


@bp.post("/api/uploads")
def open_upload():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return err(400, "bad_request", "请求格式错误")
    try:
        st = _store().open_upload(str(body.get("sha256", "")).lower(), body.get("size"),
                                  body.get("site_no"), body.get("sig"))
    except ValueError as e:
        return err(400, "bad_request", f"请求参数错误: {e}")
    except OpenRefused as e:
        return err(e.status, e.code, e.message_zh)
    except UploadBusy:
        return err(503, "busy", "中心同时进行的上传过多，请稍后重试")
    if st["status"] == "accepted":
        return _outcome("duplicate", st["receipt"])
    return jsonify({"ok": True, **st}), 201


@bp.route("/api/uploads/<upload_id>", methods=["GET", "HEAD"])
def upload_state(upload_id):
    st = _store().upload_state(upload_id)
    if st is None:
        return err(404, "unknown_upload", GONE)
    resp = jsonify({"ok": True, **st})
    resp.headers["Upload-Offset"] = str(st["offset"])
    return resp


@bp.put("/api/uploads/<upload_id>")
def put_chunk(upload_id):
    max_chunk = current_app.config["CENTRAL"]["max_chunk"]
    try:
        offset = int(request.args.get("offset", ""))
    except ValueError:
        return err(400, "bad_request", "缺少 offset")
    if request.content_length is None:
        return err(411, "length_required", "分块需要 Content-Length")
    if request.content_length > max_chunk:
        return err(413, "chunk_too_large", f"分块不得超过 {max_chunk} 字节")
    chunk = request.get_data(cache=False)
    if len(chunk) != request.content_length:
        return err(400, "short_chunk", "分块不完整")
    _hook("before_chunk", upload_id=upload_id, offset=offset, size=len(chunk))
    try:
        st = _store().put_chunk(upload_id, offset, chunk)
    except KeyError:
        return err(404, "unknown_upload", GONE)
    except ValueError as e:
        return err(400, "bad_request", str(e))
    except UploadBusy:
        return err(503, "busy", "中心暂存空间已满，请稍后重试")
    _hook("after_chunk", upload_id=upload_id, offset=offset, size=len(chunk))
    if st["result"] == "conflict":
        return err(409, "offset_mismatch", "偏移量不符，请从服务器记录的位置继续", offset=st["offset"])
    resp = jsonify({"ok": True, **{k: v for k, v in st.items() if k != "result"}})
    resp.headers["Upload-Offset"] = str(st["offset"])
    return resp


@bp.post("/api/uploads/<upload_id>/finalize")
def finalize(upload_id):
    _hook("before_finalize", upload_id=upload_id)
    try:
        status, res = _store().finalize_upload(upload_id)
    except KeyError:
        return err(404, "unknown_upload", GONE)
    except BundleRejected as e:
        return _rejected(e)
    if status == "incomplete":
        return err(409, "incomplete", "数据尚未传完", offset=res["offset"])
    _hook("after_finalize", upload_id=upload_id)
    return _outcome(status, res)


@bp.post("/api/bundles")
def whole_bundle():
    """A whole bundle in one request (small bundles, a file without its .sig proof)."""
    data = request.get_data(cache=False)
    try:
        status, receipt = _store().ingest(data, source="http")
    except BundleRejected as e:
        return _rejected(e)
    return _outcome(status, receipt)


@bp.post("/api/reports")
def site_report():
    """A site's same-day violation or incident report, signed with its key (sync/site_report.py)."""
    from contracts.site_report import ReportRefused, verify_report
    from .cases import CaseError, store_report
    try:
        site, kind, record = verify_report(request.get_json(silent=True), _store().site_keys)
        out = store_report(_store(), site, kind, record)
    except ReportRefused as e:
        return err(e.status, e.code, e.message_zh)
    except CaseError as e:
        return err(e.status, e.code, e.message)
    return jsonify({"ok": True, **out}), 200


@bp.get("/api/receipts/<bid>")
def receipt(bid):
    rec = _store().existing_receipt(bid)
    if rec is None:
        return err(404, "unknown_bundle", "中心没有这个成绩包")
    return jsonify({"ok": True, "receipt": rec})
