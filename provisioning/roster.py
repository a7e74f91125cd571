"""Roster import (考生名单): validate everything, import all or nothing."""
from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from contracts.exam import CATEGORIES, LEVELS

from .idcard import gender_of, id_problem, normalize
from .sites import Site
from .tables import read_table, resolve_columns, write_table

COLUMNS = {
    "ticket": ("准考证号", "准考证"),
    "name": ("姓名", "考生姓名"),
    "gender": ("性别",),
    "id_number": ("身份证号", "身份证号码", "证件号码"),
    "category": ("执业类别", "类别"),
    "level": ("医师级别", "级别"),
    "unit": ("工作单位", "单位", "所在单位"),
    "department": ("科室", "所在科室"),
    "site": ("考点", "考点名称", "考点编号"),
    "date": ("考试日期",),
    "session": ("场次",),
    "room": ("考场", "考场号"),
    "seat_no": ("座位号",),
}
REQUIRED = ("ticket", "name", "gender", "id_number", "category", "level", "unit", "department", "site")
_CATEGORY_ALIASES = {"临床类别": "临床", "中医类别": "中医", "口腔类别": "口腔", "公共卫生类别": "公共卫生",
                     "公卫": "公共卫生"}
_LEVEL_ALIASES = {"医师": "执业医师", "助理医师": "执业助理医师", "执业助理": "执业助理医师"}


@dataclass
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行 {self.field}: {self.message}" if self.row else f"{self.field}: {self.message}"


class RosterError(ValueError):
    """The roster has problems; nothing was imported. ``errors`` lists them all."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        head = "\n".join(str(e) for e in errors[:50])
        more = f"\n……另有{len(errors) - 50}处错误" if len(errors) > 50 else ""
        super().__init__(f"考生名单有{len(errors)}处错误，未导入任何考生：\n{head}{more}")


@dataclass
class Roster:
    candidates: list[dict]
    warnings: list[RowError] = field(default_factory=list)

    def by_site(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = defaultdict(list)
        for c in self.candidates:
            out[c["site"]].append(c)
        return dict(out)


def _int_field(value: str, row: int, name: str, errors: list[RowError]) -> int | None:
    if not value:
        return None
    v = value.removeprefix("第").removesuffix("考场").removesuffix("场").removesuffix("号")
    if v.isdigit() and int(v) > 0:
        return int(v)
    errors.append(RowError(row, name, f"应为正整数，实际为“{value}”"))
    return None


def validate_rows(rows: list[tuple[int, dict[str, str]]], sites: list[Site]) -> Roster:
    """Rows as {field: text} (English field names) -> Roster, or RosterError with every problem."""
    by_no = {s.site_no: s for s in sites}
    by_name: dict[str, list[Site]] = defaultdict(list)
    for s in sites:
        by_name[s.name].append(s)
    errors: list[RowError] = []
    warnings: list[RowError] = []
    seen_ticket: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    out = []
    for n, r in rows:
        c = {k: (r.get(k) or "").strip() for k in COLUMNS}
        for f in REQUIRED:
            if not c[f]:
                errors.append(RowError(n, COLUMNS[f][0], "不能为空"))
        t = c["ticket"]
        if t:
            if t in seen_ticket:
                errors.append(RowError(n, "准考证号", f"与第{seen_ticket[t]}行重复（{t}）"))
            else:
                seen_ticket[t] = n
        c["id_number"] = normalize(c["id_number"])
        if c["id_number"]:
            p = id_problem(c["id_number"])
            if p:
                errors.append(RowError(n, "身份证号", f"{p}（{c['id_number']}）"))
            elif c["id_number"] in seen_id:
                errors.append(RowError(n, "身份证号", f"与第{seen_id[c['id_number']]}行重复"))
            else:
                seen_id[c["id_number"]] = n
                if c["gender"] in ("男", "女") and gender_of(c["id_number"]) != c["gender"]:
                    warnings.append(RowError(n, "性别", "与身份证号不符"))
        if c["gender"] and c["gender"] not in ("男", "女"):
            errors.append(RowError(n, "性别", f"应为“男”或“女”，实际为“{c['gender']}”"))
        c["category"] = _CATEGORY_ALIASES.get(c["category"], c["category"])
        if c["category"] and c["category"] not in CATEGORIES:
            errors.append(RowError(n, "执业类别", f"未知类别“{c['category']}”（应为{'/'.join(CATEGORIES)}）"))
        c["level"] = _LEVEL_ALIASES.get(c["level"], c["level"])
        if c["level"] and c["level"] not in LEVELS:
            errors.append(RowError(n, "医师级别", f"未知级别“{c['level']}”（应为{'/'.join(LEVELS)}）"))
        site = None
        if c["site"]:
            if c["site"] in by_no:
                site = by_no[c["site"]]
            elif len(by_name.get(c["site"], [])) == 1:
                site = by_name[c["site"]][0]
            elif c["site"] in by_name:
                errors.append(RowError(n, "考点", f"“{c['site']}”对应多个考点，请填写考点编号"))
            else:
                errors.append(RowError(n, "考点", f"未知考点“{c['site']}”"))
        if site:
            c["site"] = site.site_no
        if c["date"]:
            try:
                c["date"] = _dt.date.fromisoformat(c["date"].replace("/", "-").replace(".", "-")[:10]).isoformat()
            except ValueError:
                errors.append(RowError(n, "考试日期", f"无法识别的日期“{c['date']}”"))
                c["date"] = ""
            if site and c["date"] and c["date"] not in site.exam_dates:
                errors.append(RowError(n, "考试日期", f"{c['date']}不是该考点的考试日（{'、'.join(site.exam_dates)}）"))
        for f, label in (("session", "场次"), ("room", "考场"), ("seat_no", "座位号")):
            c[f] = _int_field(c[f], n, label, errors)
        if c["seat_no"] and not (c["date"] and c["session"] and c["room"]):
            errors.append(RowError(n, "座位号", "指定座位号时须同时指定考试日期、场次和考场"))
        c["row"] = n
        out.append(c)
    # the same seat given twice
    seats: dict[tuple, int] = {}
    for c in out:
        if c["seat_no"] and c["site"]:
            k = (c["site"], c["date"], c["session"], c["room"], c["seat_no"])
            if k in seats:
                errors.append(RowError(c["row"], "座位号", f"与第{seats[k]}行的座位重复"))
            else:
                seats[k] = c["row"]
    if not out and not errors:
        errors.append(RowError(0, "考生名单", "没有任何考生"))
    if errors:
        raise RosterError(sorted(errors, key=lambda e: e.row))
    return Roster(out, warnings)


def load_roster(path: str | Path, sites: list[Site]) -> Roster:
    """Read and validate a roster .xlsx/.csv; raises RosterError listing every bad row."""
    headers, rows = read_table(path, "准考证号")
    mapping, missing = resolve_columns(headers, COLUMNS, REQUIRED)
    if missing:
        raise RosterError([RowError(1, "表头", f"缺少必需的列：{'、'.join(missing)}")])
    return validate_rows([(n, {f: r.get(h, "") for f, h in mapping.items()}) for n, r in rows], sites)


ROSTER_HEADERS = ["准考证号", "姓名", "性别", "身份证号", "执业类别", "医师级别", "工作单位", "科室",
                  "考点", "考试日期", "场次", "考场", "座位号"]


def write_roster(path: str | Path, candidates: list[dict]) -> None:
    """Write a roster in the import layout (.csv or .xlsx); for examples and tests."""
    keys = ["ticket", "name", "gender", "id_number", "category", "level", "unit", "department",
            "site", "date", "session", "room", "seat_no"]
    rows = [[("" if c.get(k) is None else c.get(k, "")) for k in keys] for c in candidates]
    write_table(path, ROSTER_HEADERS, rows)
