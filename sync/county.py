"""The county office's run (区县批量上传): upload every result bundle of a folder or USB
stick and name every file it does not take, and why (docs/sync.md).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts.result_bundle import BUNDLE_SUFFIX, looks_like_bundle
from contracts.upload import upload_bundle


# Files the hall itself writes beside a bundle: never uploaded; named in the county run's
# summary (records of a bundle that is in the folder are only counted: they are expected).
RECORD_ENDINGS = (".sync.json", ".receipt.json", ".sig")  # .sig: an upload proof whose bundle is gone
OTHER_ENDINGS = {".part": "未写完的导出文件（请在考点重新导出）", "sync.log": "上传日志（不是成绩包）"}
RECORD_WHY = "上传状态/回执记录或上传凭证（不是成绩包，随成绩包一起保留）"


def why_not_a_bundle(path: Path) -> str:
    if path.name.endswith(RECORD_ENDINGS):
        return RECORD_WHY
    for end, why in OTHER_ENDINGS.items():
        if path.name.endswith(end):
            return why
    if path.name.endswith(BUNDLE_SUFFIX) or looks_like_bundle(path):
        return ""                                # (a bundle under another name is taken too)
    return "不是成绩包文件（成绩包以 .hallresult 结尾，由考点“导出到U盘”生成）"


def scan_folder(folder: str | Path) -> tuple[list[Path], list[tuple[Path, str]], list[Path]]:
    """Every regular file under ``folder``: (bundles to upload, [(file, why it is not
    taken)], records of bundles that are in the folder)."""
    take, skip, records = [], [], []
    folder = Path(folder)
    for p in ([folder] if folder.is_file() else sorted(folder.rglob("*"))):
        if not p.is_file():
            continue
        why = why_not_a_bundle(p)
        beside = p.with_name(p.name.rsplit(BUNDLE_SUFFIX, 1)[0] + BUNDLE_SUFFIX)
        if not why:
            take.append(p)
        elif p.name.endswith(BUNDLE_SUFFIX + ".sig") and beside.is_file():
            continue                     # the site's upload proof: read with its bundle
        elif why == RECORD_WHY and p.with_name(p.name.rsplit(BUNDLE_SUFFIX, 1)[0] + BUNDLE_SUFFIX).is_file():
            records.append(p)
        else:
            skip.append((p, why))
    return take, skip, records


def find_bundles(folder: str | Path) -> list[Path]:
    return scan_folder(folder)[0]


def _site_of(path: Path) -> str:
    try:
        return str(json.loads(path.read_bytes())["payload"]["site"]["site_no"])
    except Exception:
        return "?"


def county_run(folder: str | Path, url: str, *, out=sys.stderr, report_path: str | Path | None = None,
               **kw) -> dict:
    """Upload every *.hallresult under ``folder``; progress bar on ``out``; returns the
    summary {accepted: [...], already: [...], refused: [...], pending: [...]}."""
    files, skipped, records = scan_folder(folder)
    total_bytes = sum(p.stat().st_size for p in files) or 1
    done_bytes = 0
    summary: dict[str, list] = {"accepted": [], "already": [], "refused": [], "pending": [],
                                "skipped": [{"file": str(p), "reason": {"code": "not_a_bundle", "message": why}}
                                            for p, why in skipped]}

    def bar(i: int, name: str, pct: float):
        frac = (done_bytes + pct / 100 * files[i].stat().st_size) / total_bytes
        n = int(frac * 30)
        out.write(f"\r[{'#' * n}{'.' * (30 - n)}] {frac * 100:5.1f}%  {i + 1}/{len(files)}  {name[:40]:<40}")
        out.flush()

    for i, p in enumerate(files):
        bar(i, p.name, 0)
        res = upload_bundle(p, url, on_state=lambda st, i=i, p=p: bar(i, p.name, st.get("percent") or 0),
                            state_files=False, **kw)
        res.site_no = res.site_no or _site_of(p)
        done_bytes += p.stat().st_size
        row = {"file": str(p), "site_no": res.site_no, "bundle_id": res.bundle_id,
               "receipt_no": (res.receipt or {}).get("receipt_no"), "reason": res.reason}
        if res.state == "accepted":
            summary["already" if res.duplicate else "accepted"].append(row)
        elif res.state == "rejected":
            summary["refused"].append(row)
        else:
            summary["pending"].append(row)
    out.write("\n")
    lines = [f"共 {len(files)} 个成绩包：新接收 {len(summary['accepted'])}，中心已有 {len(summary['already'])}，"
             f"被拒收 {len(summary['refused'])}，未能上传（稍后重试） {len(summary['pending'])}"]
    if skipped:
        lines.append(f"另有 {len(skipped)} 个文件未处理：")
        lines += [f"  未处理  {p.relative_to(folder) if p != Path(folder) else p.name}: {why}" for p, why in skipped]
    if records:
        lines.append(f"（另有 {len(records)} 个成绩包的上传状态/回执记录文件，不是成绩包，不上传）")
    for row in summary["refused"]:
        lines.append(f"  拒收  考点 {row['site_no']}  {Path(row['file']).name}: {row['reason'].get('message')}"
                     f" [{row['reason'].get('code')}]")
    for row in summary["pending"]:
        lines.append(f"  未传  考点 {row['site_no']}  {Path(row['file']).name}: {row['reason'].get('message')}")
    out.write("\n".join(lines) + "\n")
    if report_path:
        import csv
        with open(report_path, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(["结果", "考点编号", "文件", "成绩包哈希", "回执号", "原因"])
            for k, zh in (("accepted", "新接收"), ("already", "中心已有"), ("refused", "拒收"), ("pending", "未传")):
                for row in summary[k]:
                    w.writerow([zh, row["site_no"], Path(row["file"]).name, row["bundle_id"], row["receipt_no"] or "",
                                (row["reason"] or {}).get("message", "")])
            for row in summary["skipped"]:
                w.writerow(["未处理", "", Path(row["file"]).name, "", "", row["reason"]["message"]])
    summary["text"] = "\n".join(lines)
    return summary
