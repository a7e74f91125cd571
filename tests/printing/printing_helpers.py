"""Helpers for the printing tests: a realistic exam site, and rendering/reading PDFs.

Site: 2 rooms; sitting 1 in both rooms (~20 candidates each, several units, absentees
with and without the sweep's 'absent' row, violations of all three levels, incidents, a
pause, extra time, a latecomer, a paper-mode card, scored submissions), and sitting 2 in
room 1 where most candidates stayed away, so the room record spills onto 续表 pages.
"""
from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pdfplumber
from hall_server.db.schema import open_db

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output" / "printing"
CST = timezone(timedelta(hours=8))
T0 = datetime(2023, 9, 4, 9, 0, tzinfo=CST).timestamp()  # sitting 1 starts 09:00 site time

UNITS = [("重庆市渝中区人民医院", "临床"), ("重庆医科大学附属第一医院", "临床"),
         ("渝中区大坪街道社区卫生服务中心", "临床"), ("重庆市中医院", "中医"),
         ("重庆医科大学附属口腔医院", "口腔"), ("渝中区疾病预防控制中心", "公共卫生"),
         ("重庆市渝中区妇幼保健院", "临床")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
         "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "思远", "雨涵", "建国", "晓燕"]


def id_number(rng: random.Random, male: bool) -> str:
    born = datetime(1965, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
    seq = rng.randrange(10, 99) * 10 + rng.choice([1, 3, 5, 7, 9] if male else [0, 2, 4, 6, 8])
    body = f"500103{born:%Y%m%d}{seq:03d}"
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(a) * b for a, b in zip(body, w)) % 11]


def paper(rng: random.Random, ticket: str, category: str, n: int = 100) -> tuple[dict, list]:
    qs, key = [], []
    for no in range(1, n + 1):
        keys = "ABCD" if no % 7 == 0 else "ABCDE"  # some items have four options
        qs.append({"no": no, "stem": f"第{no}题题干", "image": None,
                   "options": [{"key": k, "text": f"选项{k}"} for k in keys]})
        key.append(rng.choice(keys))
    return ({"ticket": ticket, "category": category, "title": "医师定期考核业务水平测评",
             "question_count": n, "duration_s": 3600, "questions": qs}, key)


def build_site(path: Path):
    rng = random.Random(20230904)
    db = open_db(path)
    db["meta"].insert_all([{"key": "site_name", "value": "重庆市渝中区人民医院"},
                           {"key": "site_no", "value": "12"}], replace=True)
    db["rooms"].insert_all([{"room_id": "R01", "name": "第1考场", "capacity": 40},
                            {"room_id": "R02", "name": "第2考场", "capacity": 40}])
    common = dict(date="2023-09-04", duration_s=3600, late_entry_s=600,
                  earliest_submit_s=900, question_count=100, status="ended", paused_total_s=0)
    db["sittings"].insert_all([
        dict(common, sitting_id="D1S1-R01", sitting_no=1, room_id="R01",
             planned_start="2023-09-04T09:00:00+08:00", started_at=T0 + 12, ended_at=T0 + 3700,
             paused_total_s=240),
        dict(common, sitting_id="D1S1-R02", sitting_no=1, room_id="R02",
             planned_start="2023-09-04T09:00:00+08:00", started_at=T0 + 30, ended_at=T0 + 3720),
        dict(common, sitting_id="D1S2-R01", sitting_no=2, room_id="R01",
             planned_start="2023-09-04T14:00:00+08:00", started_at=T0 + 5 * 3600,
             ended_at=T0 + 6 * 3600 + 60),
    ])
    plan = [("D1S1-R01", 21, {3, 9, 17}), ("D1S1-R02", 19, {5, 14}),
            ("D1S2-R01", 110, set(range(1, 111)) - {2, 11, 30, 45, 60, 97})]
    serial = 0
    for sitting_id, count, absent_seats in plan:
        start = {"D1S1-R01": T0, "D1S1-R02": T0, "D1S2-R01": T0 + 5 * 3600}[sitting_id]
        order = 0
        for seat in range(1, count + 1):
            serial += 1
            unit, cat = UNITS[(seat * 3 + serial) % len(UNITS)] if sitting_id != "D1S2-R01" \
                else UNITS[seat % 3]
            male = rng.random() < 0.5
            ticket = f"500103202300{serial:04d}"
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            db["candidates"].insert(dict(
                ticket=ticket, name=name, gender="男" if male else "女",
                id_number=id_number(rng, male), category=cat,
                level="执业医师" if rng.random() < 0.8 else "执业助理医师", unit=unit,
                department=rng.choice(["内科", "外科", "儿科", "急诊科", "全科"]),
                sitting_id=sitting_id, seat_no=seat))
            p, key = paper(rng, ticket, cat)
            db["papers"].insert(dict(ticket=ticket, paper_json=json.dumps(p, ensure_ascii=False),
                                     paper_hash=f"h{serial}"))
            db["paper_keys"].insert(dict(ticket=ticket, key_json=json.dumps(key), points=1))
            if seat in absent_seats:
                continue
            order += 1
            opened = start + 60 + order * 20
            score = float(rng.randint(38, 97))
            db["attempts"].insert(dict(
                ticket=ticket, sitting_id=sitting_id, status="submitted", signin_order=order,
                logged_in_at=opened - 40, confirmed_at=opened - 20, opened_at=opened,
                deadline_at=opened + 3600, submitted_at=opened + rng.randint(1500, 3590),
                submit_reason="candidate", receipt=f"K{serial:03d}-M9XD-{rng.randint(10, 99)}",
                score=score, answered=100, device_id=f"dev{serial}",
                device_changes=1 if serial % 6 == 0 else 0))
    room1 = [r["ticket"] for r in db.query(
        "SELECT a.ticket FROM attempts a WHERE sitting_id='D1S1-R01' ORDER BY signin_order")]
    # The cheater and the impersonator were stopped and their papers submitted by staff.
    db.execute("UPDATE attempts SET status='terminated', submit_reason='terminated' "
               "WHERE ticket IN (?, ?)", [room1[4], room1[7]])
    db.execute("UPDATE attempts SET status='answering', submitted_at=NULL, receipt=NULL, "
               "score=NULL, answered=57 WHERE ticket = ?", [room1[10]])
    db["violations"].insert_all([
        dict(ticket=room1[1], sitting_id="D1S1-R01", level="minor",
             facts="未按指定座位就座，经提醒后改正。", ts=T0 + 600, staff="jk1"),
        dict(ticket=room1[4], sitting_id="D1S1-R01", level="cheating",
             facts="考试中退出考试App使用浏览器搜索答案，监考当场制止并终止其考试、提交试卷。",
             ts=T0 + 1500, staff="jk1"),
        dict(ticket=room1[7], sitting_id="D1S1-R01", level="serious",
             facts="身份核查发现由他人代替参加考试（替考），已终止考试，证据已留存。",
             ts=T0 + 1800, staff="chief"),
    ])
    room2 = [r["ticket"] for r in db.query(
        "SELECT ticket FROM attempts WHERE sitting_id='D1S1-R02' ORDER BY signin_order")]
    db["violations"].insert(dict(ticket=room2[2], sitting_id="D1S1-R02", level="minor",
                                 facts="考试中与邻座交头接耳，给予警告。", ts=T0 + 900, staff="jk2"))
    # The sweep marked one of room 2's no-shows absent; one card was keyed in (paper mode);
    # a latecomer was admitted in room 1; room 1 paused once and one candidate got time back.
    db["attempts"].insert(dict(ticket=_seat(db, "D1S1-R02", 14), sitting_id="D1S1-R02", status="absent"))
    db.execute("UPDATE attempts SET signin_order=NULL, logged_in_at=NULL, device_id=NULL, mode='paper' "
               "WHERE ticket = ?", [room2[5]])
    db.execute("UPDATE attempts SET late_reason='交通拥堵，经主考同意迟到入场', logged_in_at=? WHERE ticket = ?",
               [T0 + 480, room1[-1]])
    db["time_adjustments"].insert_all([
        dict(sitting_id="D1S1-R01", ticket=None, kind="pause", seconds=240, reason="全场断网，暂停考试",
             started_at=T0 + 1190, ended_at=T0 + 1430, staff="chief"),
        dict(sitting_id="D1S1-R01", ticket=room1[6], kind="extra", seconds=300,
             reason="系统故障导致该考生无法作答", started_at=T0 + 2100, staff="chief"),
    ])
    db["incidents"].insert_all([
        dict(sitting_id="D1S1-R01", kind="network", text="考场WiFi中断约3分钟，恢复后考生继续作答，答题记录无丢失。",
             ts=T0 + 1200, staff="chief"),
        dict(sitting_id="D1S1-R01", kind="system", text="座位7考生手机死机，更换备用手机后登录继续作答。",
             ts=T0 + 2000, staff="jk1"),
        dict(sitting_id="D1S1-R02", kind="sick", text="一名考生低血糖不适，经校医处理后坚持完成考试。",
             ts=T0 + 2400, staff="jk2"),
    ])
    return db


def _seat(db, sitting_id, seat):
    return db.execute("SELECT ticket FROM candidates WHERE sitting_id = ? AND seat_no = ?",
                      [sitting_id, seat]).fetchone()[0]


def save_and_render(pdf: bytes, name: str, dpi: int = 60) -> list[Path]:
    """Keep the PDF and its page PNGs in test-output/printing/ as artifacts."""
    OUT.mkdir(parents=True, exist_ok=True)
    own = re.compile(rf"{re.escape(name)}-\d+\.png")  # not "poster-150dpi-1.png" for "poster"
    for old in OUT.glob(f"{name}-*.png"):
        if own.fullmatch(old.name):
            old.unlink()
    (OUT / f"{name}.pdf").write_bytes(pdf)
    assert shutil.which("pdftoppm"), "pdftoppm missing: apt-get install poppler-utils"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(OUT / f"{name}.pdf"), str(OUT / name)],
                   check=True, timeout=60)
    pngs = sorted(p for p in OUT.glob(f"{name}-*.png") if own.fullmatch(p.name))
    assert pngs
    return pngs


def pages_text(pdf: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return [p.extract_text() or "" for p in doc.pages]


def squash(text: str) -> str:
    """Text without whitespace: table cells wrap and pdfplumber adds spaces at will."""
    return "".join(text.split())
