"""The built-in demo site: the first real site, synthetic candidates and a demo item bank.

The plan comes from provisioning, the same code that builds real bundles, as a file
(`python -m provisioning demo-plan`: the hall imports no provisioning code, as on exam day it
only reads what provisioning made); the demo only moves the sittings to today so that a
demo started now behaves like exam day.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from contracts.site_plan import load_plan

from .importer import import_plan


def demo_plan(sites_csv: Path | None = None) -> dict:
    """The demo plan provisioning builds for the first site of ``sites_csv`` (default: the
    shipped list)."""
    with tempfile.TemporaryDirectory(prefix="hall-demo-") as tmp:
        out = Path(tmp) / "demo-plan.json"
        cmd = [sys.executable, "-m", "provisioning", "demo-plan", "--out", str(out)]
        r = subprocess.run(cmd + (["--sites", str(sites_csv)] if sites_csv else []), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"无法生成演示考点计划: {r.stderr.strip()[-500:]}")
        return load_plan(out)


def shift_to_today(plan: dict, now: datetime | None = None, tz=None) -> dict:
    """Sittings a quarter of an hour from now, today, in the exam's zone ``tz`` (the demo on a
    UTC laptop still runs on the exam's clock: the console, the phones and the forms agree)."""
    now = (now or datetime.now(tz).astimezone(tz)).replace(second=0, microsecond=0)
    start = now + timedelta(minutes=15 - now.minute % 5)
    for i, s in enumerate(plan["sittings"]):
        s["date"] = start.date().isoformat()
        s["planned_start"] = start.isoformat()
    plan["site"]["exam_dates"] = [start.date().isoformat()]
    return plan


def build_demo_db(db_path: Path, sites_csv: Path | None = None, zone_name: str | None = None) -> dict:
    from . import zone

    plan = demo_plan(sites_csv)
    name = zone_name or plan["exam"].get("timezone") or zone.DEFAULT
    plan["exam"]["timezone"] = name
    plan = shift_to_today(plan, tz=zone.get(name))
    summary = import_plan(db_path, plan)
    lines = ["演示考生（准考证号 / 身份证号后6位 / 姓名 / 类别 / 考场）"]
    rooms = {r["room_id"]: r["name"] for r in plan["rooms"]}
    room_of = {s["sitting_id"]: rooms[s["room_id"]] for s in plan["sittings"]}
    for c in plan["candidates"]:
        lines.append(f"{c['ticket']}  {c['id_number'][-6:]}  {c['name']}  {c['category']}  {room_of[c['sitting_id']]}")
    (Path(db_path).parent / "demo-candidates.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_centre_files(Path(db_path).parent / "centre", plan)
    return summary


def write_centre_files(folder: Path, plan: dict) -> None:
    """What the centre (sync.central) needs to take this site's results, as the city office
    would have it from provisioning: the site's public key, the answer keys and the roster.

        python -m sync.central serve --db var/centre.db --site-keys <folder>/site_keys.json \
            --answer-keys <folder>/answer_keys.json --roster <folder>/roster.csv
    """
    import csv
    import json

    folder.mkdir(parents=True, exist_ok=True)
    site = plan["site"]
    (folder / "site_keys.json").write_text(json.dumps(
        {site["site_no"]: {"public": plan["site_key"]["public"], "name": site["name"],
                           "bundle_id": plan.get("bundle_id", "")}}, ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "answer_keys.json").write_text(json.dumps(plan["keys"], ensure_ascii=False), encoding="utf-8")
    with open(folder / "roster.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ticket", "site_no", "name", "id_number", "category", "level", "unit", "department"])
        for c in plan["candidates"]:
            w.writerow([c["ticket"], site["site_no"], c["name"], c["id_number"], c["category"], c.get("level", ""),
                        c.get("unit", ""), c.get("department", "")])
