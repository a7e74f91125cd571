"""Helpers for the printing tests: a realistic exam site, and rendering/reading PDFs.

Site (through the importer and the exam's own writer operations, tests/factories.py): 2
rooms; sitting 1 in both rooms (~20 candidates each, several units, absentees with and
without the sweep's 'absent' row, violations of all three levels, incidents, a pause, extra
time, a latecomer, a paper-mode card, device changes, scored submissions), and sitting 2 in
room 1 where most candidates stayed away, so the room record spills onto 续表 pages.
"""
from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pdfplumber
from factories import (ExamScript, add_candidate, add_room, add_sitting, add_staff, import_site, new_plan, paper)
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
# sitting -> (room, start offset from T0, planned start, sitting no, candidates, seats that never come)
SITTINGS = {"D1S1-R01": ("R01", 12, "2023-09-04T09:00:00+08:00", 1, 21, {3, 9, 17}),
            "D1S1-R02": ("R02", 30, "2023-09-04T09:00:00+08:00", 1, 19, {5, 14}),
            "D1S2-R01": ("R01", 5 * 3600, "2023-09-04T14:00:00+08:00", 2, 110,
                         set(range(1, 111)) - {2, 11, 30, 45, 60, 97})}


def id_number(rng: random.Random, male: bool) -> str:
    born = datetime(1965, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
    seq = rng.randrange(10, 99) * 10 + rng.choice([1, 3, 5, 7, 9] if male else [0, 2, 4, 6, 8])
    body = f"500103{born:%Y%m%d}{seq:03d}"
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(a) * b for a, b in zip(body, w)) % 11]


def site_plan(rng: random.Random) -> dict:
    plan = new_plan(site_no="12", name="重庆市渝中区人民医院", dates=("2023-09-04",), demo=False,
                    questions=100, timezone="Asia/Shanghai", seed=20230904)
    add_staff(plan, "chief", "主考", "chief", None, password="chief-pw-12")
    add_room(plan, "R01", "第1考场", 40)
    add_room(plan, "R02", "第2考场", 40)
    serial = 0
    for sitting_id, (room, _, planned, no, count, _) in SITTINGS.items():
        add_sitting(plan, sitting_id, room, planned, sitting_no=no)
        for seat in range(1, count + 1):
            serial += 1
            unit, cat = UNITS[(seat * 3 + serial) % len(UNITS)] if sitting_id != "D1S2-R01" else UNITS[seat % 3]
            male = rng.random() < 0.5
            cand = {"ticket": f"500103202300{serial:04d}", "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "gender": "男" if male else "女", "id_number": id_number(rng, male), "category": cat,
                    "level": "执业医师" if rng.random() < 0.8 else "执业助理医师", "unit": unit,
                    "department": rng.choice(["内科", "外科", "儿科", "急诊科", "全科"]),
                    "sitting_id": sitting_id, "seat_no": seat}
            # some items have four options
            add_candidate(plan, cand, *paper(100, cat, rng, option_keys=lambda q: "ABCD" if q % 7 == 0 else "ABCDE"))
    return plan


def build_site(path: Path):
    """The site above, imported and played through the writer operations; a sqlite-utils
    Database of it."""
    rng = random.Random(20230904)
    plan = site_plan(rng)
    import_site(path, plan)
    s = ExamScript(path)
    came: dict[str, list[str]] = {}
    for sitting_id, (_, offset, _, _, _, away) in SITTINGS.items():
        s.at(T0 + offset, "start", sitting_id)
        seats = [c for c in plan["candidates"] if c["sitting_id"] == sitting_id]
        came[sitting_id] = [c["ticket"] for c in seats if c["seat_no"] not in away]
    room1, room2, late = came["D1S1-R01"][:-1], came["D1S1-R02"], came["D1S1-R01"][-1]
    paper_card = room2.pop(5)                       # answers on an answer card, keyed in twice
    keys = plan["keys"]

    def sits(ticket: str, opened: float, submit_after: float | None) -> None:
        s.at(opened, "sit", ticket)
        skill = rng.uniform(0.4, 0.95)
        s.at(opened + 2, "answer_all", ticket, [k if rng.random() < skill else "A" for k in keys[ticket]])
        if submit_after is not None:
            s.at(opened + submit_after, "submit", ticket)

    for sitting_id, tickets in (("D1S1-R01", room1), ("D1S1-R02", room2), ("D1S2-R01", came["D1S2-R01"])):
        start = T0 + SITTINGS[sitting_id][1]
        for k, ticket in enumerate(tickets, start=1):
            stays = sitting_id == "D1S1-R01" and k - 1 in (4, 7, 10)   # terminated, terminated, collected at the end
            later = sitting_id == "D1S1-R01" and k - 1 == 6             # submits after the extra time
            sits(ticket, start + 48 + k * 20, None if stays else 3100 if later else rng.randint(1500, 3000))
    # room 1: a latecomer admitted by the chief; three phones replaced; one pause for the network
    s.at(T0 + 700, "admit_late", late, "交通拥堵，经主考同意迟到入场")
    sits(late, T0 + 760, 2500)
    for i in (0, 5, 11):
        s.at(T0 + 400 + i, "login", room1[i], f"dev2-{room1[i]}")
    s.at(T0 + 600, "violation", room1[1], "minor", "未按指定座位就座，经提醒后改正。", "jk1")
    s.at(T0 + 1190, "pause", "D1S1-R01", "全场断网，暂停考试")
    s.at(T0 + 1200, "incident", "D1S1-R01", "network", "考场WiFi中断约3分钟，恢复后考生继续作答，答题记录无丢失。")
    s.at(T0 + 1430, "resume", "D1S1-R01")
    s.at(T0 + 1500, "violation", room1[4], "cheating",
         "考试中退出考试App使用浏览器搜索答案，监考当场制止并终止其考试、提交试卷。", "jk1")
    s.at(T0 + 1800, "violation", room1[7], "serious", "身份核查发现由他人代替参加考试（替考），已终止考试，证据已留存。")
    s.at(T0 + 2000, "incident", "D1S1-R01", "system", "座位7考生手机死机，更换备用手机后登录继续作答。", "jk1")
    s.at(T0 + 2100, "extra_time", "D1S1-R01", room1[6], 300, "系统故障导致该考生无法作答")
    s.at(T0 + 3700, "end", "D1S1-R01")
    # room 2: the sweep marks the no-shows 缺考; a warning; a sick candidate; a card keyed in
    s.at(T0 + 631, "mark_absent", "D1S1-R02")
    s.at(T0 + 900, "violation", room2[2], "minor", "考试中与邻座交头接耳，给予警告。", "jk2")
    s.at(T0 + 2400, "incident", "D1S1-R02", "sick", "一名考生低血糖不适，经校医处理后坚持完成考试。", "jk2")
    card = "".join(k if q % 3 else "-" for q, k in enumerate(keys[paper_card], start=1))
    s.at(T0 + 3000, "paper_entry", paper_card, 1, card, "jk2")
    s.at(T0 + 3010, "paper_entry", paper_card, 2, card)
    s.at(T0 + 3720, "end", "D1S1-R02")
    s.at(T0 + 6 * 3600 + 60, "end", "D1S2-R01")
    s.play().close()
    return open_db(path)


def attendance(db, sitting_id: str, now: float | None = None):
    """应到/实到/缺考 of a sitting by the one definition (hall_server/exam/counts.py), now."""
    import time

    from hall_server.exam.counts import sitting_attendance

    s = db.execute("SELECT * FROM sittings WHERE sitting_id = ?", [sitting_id]).fetchone()
    rows = db.execute("SELECT c.ticket, a.opened_at, a.mode, a.late_reason FROM candidates c"
                      " LEFT JOIN attempts a USING (ticket) WHERE c.sitting_id = ? ORDER BY c.ticket", [sitting_id])
    return sitting_attendance(dict(s), [dict(r) for r in rows], time.time() if now is None else now)


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
