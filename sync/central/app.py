"""Central ingest service (Flask application factory). Protocol: docs/sync.md.

config keys:
  db            the centre's database (required): a SQLite file path, or a PostgreSQL URL
                postgresql://user:password@host:5432/dbname (a province or the country)
  spool_dir     where partial uploads wait (default: <db>.spool beside a SQLite file;
                var/central-spool/<host_port_db> under the working directory for PostgreSQL)
  site_keys     {site_no: public_b64} or a path to site_keys.json (required)
  answer_keys   optional {ticket: [...]} or a path (JSON file, provisioning centre/papers/*.json or that folder)
  roster        optional path to roster CSV (ticket, site_no, name, id_number, category, level, unit, department)
  sites_csv     path of sites.csv (default /work/shared/data/sites.csv)
  centre_key    optional base64 Ed25519 private key for receipts (else generated once, kept in the DB)
  admin_token   the admin token (管理口令). Unset: generated at the first start, only its hash kept
                in the DB, shown once (app.extensions["central_admin"].new_token; `serve` prints it).
                The status page, /api/status, pass marks and /export/* always need it (admin.py);
                the upload routes are authenticated by the bundle's signature, /api/health is open.
  max_chunk     largest accepted chunk in bytes (default 8 MiB)
  upload_idle_minutes  an open upload that received no bytes for this long is dropped when
                room is needed (default 30)
  fault_hook    tests only: callable(stage, **info) called at defined points
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, request

from ..result_bundle import MAX_BUNDLE_BYTES, BundleRejected
from . import admin, reports
from ..upload_proof import OpenRefused
from .store import Store, load_answer_keys, load_site_registry
from .uploads import UploadBusy, UploadLimits


def _err(status: int, code: str, message: str, **extra):
    return jsonify({"ok": False, "status": "rejected" if status == 422 else "error",
                    "error": {"code": code, "message": message, **extra}}), status


def create_app(config: dict[str, Any]) -> Flask:
    app = Flask("sync.central")
    site_keys = config.get("site_keys") or {}
    plan_ids = {}
    if isinstance(site_keys, (str, Path)):
        registry = load_site_registry(site_keys)
        site_keys = {k: v["public"] for k, v in registry.items()}
        plan_ids = {k: v["bundle_id"] for k, v in registry.items()}
    limits = UploadLimits(idle_s=60 * float(config.get("upload_idle_minutes") or UploadLimits.idle_s / 60))
    store = Store(config["db"], site_keys=site_keys, centre_key_b64=config.get("centre_key"), plan_ids=plan_ids,
                  spool_dir=config.get("spool_dir"), upload_limits=limits)
    if config.get("roster"):
        store.load_roster_csv(config["roster"])
    ak = config.get("answer_keys")
    if ak:
        store.load_answer_keys(load_answer_keys(ak) if isinstance(ak, (str, Path)) else
                               {t: (v if isinstance(v, dict) else {"key": v}) for t, v in ak.items()})
    sites_csv = config.get("sites_csv")
    max_chunk = int(config.get("max_chunk", 8 * 1024 * 1024))
    hook = config.get("fault_hook") or (lambda stage, **kw: None)
    auth = admin.AdminAuth(store, config.get("admin_token"))
    admin_only = admin.install(app, auth)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BUNDLE_BYTES + 1024
    app.extensions["hall_store"] = store
    app.extensions["central_admin"] = auth

    def outcome(status: str, receipt: dict):
        return jsonify({"ok": True, "status": status, "duplicate": status == "duplicate",
                        "receipt": receipt}), 200

    def rejected(e: BundleRejected):
        return _err(422, e.code, e.message_zh, **e.extra)

    @app.get("/api/health")
    def health():
        return jsonify({"ok": True, "now": time.time(), "centre_public_key": store.centre_public_b64,
                        "max_chunk": max_chunk})

    @app.post("/api/uploads")
    def open_upload():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _err(400, "bad_request", "请求格式错误")
        try:
            st = store.open_upload(str(body.get("sha256", "")).lower(), body.get("size"),
                                   body.get("site_no"), body.get("sig"))
        except ValueError as e:
            return _err(400, "bad_request", f"请求参数错误: {e}")
        except OpenRefused as e:
            return _err(e.status, e.code, e.message_zh)
        except UploadBusy:
            return _err(503, "busy", "中心同时进行的上传过多，请稍后重试")
        if st["status"] == "accepted":
            return outcome("duplicate", st["receipt"])
        return jsonify({"ok": True, **st}), 201

    @app.route("/api/uploads/<upload_id>", methods=["GET", "HEAD"])
    def upload_state(upload_id):
        st = store.upload_state(upload_id)
        if st is None:
            return _err(404, "unknown_upload", "上传会话不存在（已过期或已完成），请重新开始")
        resp = jsonify({"ok": True, **st})
        resp.headers["Upload-Offset"] = str(st["offset"])
        return resp

    @app.put("/api/uploads/<upload_id>")
    def put_chunk(upload_id):
        try:
            offset = int(request.args.get("offset", ""))
        except ValueError:
            return _err(400, "bad_request", "缺少 offset")
        if request.content_length is None:
            return _err(411, "length_required", "分块需要 Content-Length")
        if request.content_length > max_chunk:
            return _err(413, "chunk_too_large", f"分块不得超过 {max_chunk} 字节")
        chunk = request.get_data(cache=False)
        if len(chunk) != request.content_length:
            return _err(400, "short_chunk", "分块不完整")
        hook("before_chunk", upload_id=upload_id, offset=offset, size=len(chunk))
        try:
            st = store.put_chunk(upload_id, offset, chunk)
        except KeyError:
            return _err(404, "unknown_upload", "上传会话不存在（已过期或已完成），请重新开始")
        except ValueError as e:
            return _err(400, "bad_request", str(e))
        except UploadBusy:
            return _err(503, "busy", "中心暂存空间已满，请稍后重试")
        hook("after_chunk", upload_id=upload_id, offset=offset, size=len(chunk))
        if st["result"] == "conflict":
            return _err(409, "offset_mismatch", "偏移量不符，请从服务器记录的位置继续", offset=st["offset"])
        resp = jsonify({"ok": True, **{k: v for k, v in st.items() if k != "result"}})
        resp.headers["Upload-Offset"] = str(st["offset"])
        return resp

    @app.post("/api/uploads/<upload_id>/finalize")
    def finalize(upload_id):
        hook("before_finalize", upload_id=upload_id)
        try:
            status, res = store.finalize_upload(upload_id)
        except KeyError:
            return _err(404, "unknown_upload", "上传会话不存在（已过期或已完成），请重新开始")
        except BundleRejected as e:
            return rejected(e)
        if status == "incomplete":
            return _err(409, "incomplete", "数据尚未传完", offset=res["offset"])
        hook("after_finalize", upload_id=upload_id)
        return outcome(status, res)

    @app.post("/api/bundles")
    def whole_bundle():
        """A whole bundle in one request (small bundles; the USB import page)."""
        data = request.get_data(cache=False)
        try:
            status, receipt = store.ingest(data, source="http")
        except BundleRejected as e:
            return rejected(e)
        return outcome(status, receipt)

    @app.get("/api/receipts/<bid>")
    def receipt(bid):
        rec = store.existing_receipt(bid)
        if rec is None:
            return _err(404, "unknown_bundle", "中心没有这个成绩包")
        return jsonify({"ok": True, "receipt": rec})

    @app.get("/api/status")
    @admin_only
    def status_json():
        return jsonify(reports.site_status(store, sites_csv))

    def marks_json():
        return jsonify({"ok": True, "pass_marks": [{"category": c, "level": l, "mark": m}
                                                   for (c, l), m in sorted(store.pass_marks().items())]})

    @app.get("/api/pass-marks")
    @admin_only
    def get_marks():
        return marks_json()

    @app.post("/api/pass-marks")
    @admin_only
    def set_mark():
        body = request.get_json(silent=True)
        try:
            store.set_pass_mark(str(body["category"]), str(body["level"]), float(body["mark"]))
        except (TypeError, KeyError, ValueError):
            return _err(400, "bad_request", "需要 category, level, mark")
        return marks_json()

    @app.get("/export/<name>.<ext>")
    @admin_only
    def export(name, ext):
        tables = {"progress": ("考核进度统计", reports.progress_table),
                  "results": ("考核结果统计", reports.results_table),
                  "candidates": ("考核结果名单", reports.candidates_table)}
        if name not in tables or ext not in ("csv", "xlsx"):
            abort(404)
        title, fn = tables[name]
        header, rows = fn(store, sites_csv, unit=request.args.get("unit") or None,
                          district=request.args.get("district") or None)
        fname = f"{title}.{ext}"
        if ext == "csv":
            data, mime = reports.to_csv(header, rows), "text/csv; charset=utf-8"
        else:
            data, mime = reports.to_xlsx(title, header, rows), \
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        from urllib.parse import quote
        return Response(data, mimetype=mime, headers={
            "Content-Disposition": f"attachment; filename=\"{name}.{ext}\"; filename*=UTF-8''{quote(fname)}"})

    @app.get("/")
    @admin_only
    def status_page():
        st = reports.site_status(store, sites_csv)
        t = st["totals"]
        e = html.escape
        rows = []
        for s in st["sites"]:
            cls = "ok" if s["bundles"] and not s["problems"] else ("bad" if s["problems"] else "none")
            last = time.strftime("%m-%d %H:%M", time.localtime(s["last_received"])) if s["last_received"] else ""
            rows.append(
                f"<tr class='{cls}'><td>{e(s['site_no'])}</td><td>{e(s['district'])}</td><td>{e(s['site_name'])}</td>"
                f"<td>{e(s['exam_dates'])}</td><td>{s['bundles']}</td><td>{s['received']} / {s['expected']}</td>"
                f"<td>{s['submitted']}</td><td>{s['absent']}</td><td>{e(last)}</td>"
                f"<td>{'<br>'.join(e(p) for p in s['problems'])}</td></tr>")
        rej = "".join(
            f"<tr><td>{time.strftime('%m-%d %H:%M:%S', time.localtime(r['ts']))}</td><td>{e(r['site_no'] or '')}</td>"
            f"<td>{e(r['code'])}</td><td>{e(r['message'])}</td><td>{e((r['bundle_id'] or '')[:16])}</td></tr>"
            for r in st["recent_rejections"][:30])
        marks = "".join(f"<li>{e(c)} {e(l)}: {m:g}</li>" for (c, l), m in sorted(store.pass_marks().items())) \
            or "<li>尚未划定（结果统计中显示为“待定”）</li>"
        by_d: dict[str, list[str]] = {}
        for x in st["sites"]:
            if not x["bundles"]:
                by_d.setdefault(x["district"] or "?", []).append(x["site_no"])
        not_synced = "；".join(f"{e(d)} {len(v)} 个（{e('、'.join(v))}）" for d, v in by_d.items())
        warn = ("<p style='color:#b00'>注意：已划定分数线，但仍有考点未上报成绩包（分数线应在所有考点考完后划定）。</p>"
                if store.pass_marks() and st["not_synced"] else "")
        page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="30"><title>成绩包接收情况</title>
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:2px 6px}}tr.none td{{color:#888}}tr.bad{{background:#fee}}
tr.ok{{background:#efe}}</style></head><body>
<form method="post" action="/logout" style="float:right"><button>退出登录</button></form>
<h1>医师定期考核 成绩包接收情况</h1>
<p>考点 {t['sites']} 个；已上报 {t['synced']}；未上报 {t['not_synced']}；成绩包 {t['bundles']} 个；
考生 已收到 {t['received']} / 应考 {t['expected']}{'' if t['roster_loaded'] else '（未导入名单，应考人数取自成绩包）'}；
拒收 {t['rejections']} 次。</p>
<p>导出：<a href="/export/progress.xlsx">考核进度统计.xlsx</a> · <a href="/export/progress.csv">csv</a> ·
<a href="/export/results.xlsx">考核结果统计.xlsx</a> · <a href="/export/results.csv">csv</a> ·
<a href="/export/candidates.xlsx">考核结果名单.xlsx</a>（可加 ?unit=单位名称 或 ?district=区县）</p>
<p>合格分数线：</p><ul>{marks}</ul>{warn}
<p>未上报考点（按区县）：{not_synced or '无'}</p>
<table><tr><th>编号</th><th>区县</th><th>考点</th><th>考试日期</th><th>成绩包</th><th>考生 收到/应考</th>
<th>已交卷</th><th>缺考</th><th>最后接收</th><th>问题</th></tr>{''.join(rows)}</table>
<h2>最近拒收</h2><table><tr><th>时间</th><th>考点</th><th>代码</th><th>原因</th><th>成绩包</th></tr>{rej}</table>
</body></html>"""
        return Response(page, mimetype="text/html")

    return app
