"""Item bank import (题库) in the layout Chinese exam offices use, plus export for examples.

Columns: 题型, 题干, 选项A…选项E, 答案, 难度, 知识点 (or 章节), 类别; optional 试题编号, 图片.
Images: the 图片 column names a file in the image folder beside the sheet (default
``<sheet>_images/`` or ``images/``); a stem may also carry ``[图:name.png]``. Images are stored
by content hash (``<sha256>.png``).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from contracts.exam import CATEGORIES

from .model import OPTION_KEYS, Bank, Item
from .roster import RowError
from .tables import read_table, resolve_columns, write_table

COLUMNS = {
    "item_id": ("试题编号", "题号", "编号"),
    "qtype": ("题型",),
    "stem": ("题干",),
    **{f"opt{k}": (f"选项{k}", k) for k in OPTION_KEYS},
    "answer": ("答案", "正确答案"),
    "difficulty": ("难度", "难度系数"),
    "topic": ("知识点", "章节", "知识点/章节"),
    "category": ("类别", "执业类别", "试卷类别"),
    "image": ("图片", "图片文件"),
}
REQUIRED = ("qtype", "stem", "optA", "optB", "optC", "optD", "answer", "difficulty", "topic", "category")
DIFFICULTY_WORDS = {"易": 0.8, "容易": 0.8, "较易": 0.7, "中": 0.55, "中等": 0.55, "适中": 0.55,
                    "较难": 0.4, "难": 0.3, "困难": 0.3}
_SINGLE = re.compile(r"^(A1|A2|A3|A4|B1|A型题?|单选题?|单项选择题|最佳选择题|单选)$", re.I)
_IMG_IN_STEM = re.compile(r"\[图[:：]\s*([^\]]+)\]")
IMAGE_TYPES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".gif": "gif", ".webp": "webp"}


class BankError(ValueError):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        head = "\n".join(str(e) for e in errors[:50])
        more = f"\n……另有{len(errors) - 50}处错误" if len(errors) > 50 else ""
        super().__init__(f"题库有{len(errors)}处错误，未导入任何试题：\n{head}{more}")


def _difficulty(text: str) -> float | None:
    if text in DIFFICULTY_WORDS:
        return DIFFICULTY_WORDS[text]
    try:
        v = float(text)
    except ValueError:
        return None
    return v if 0 < v <= 1 else None


def _image_dir(sheet: Path, images_dir: Path | None) -> Path:
    if images_dir:
        return images_dir
    for cand in (sheet.with_name(sheet.stem + "_images"), sheet.parent / "images"):
        if cand.is_dir():
            return cand
    return sheet.parent


def load_bank(path: str | Path, images_dir: str | Path | None = None) -> Bank:
    """Read and validate an item bank; raises BankError listing every bad row."""
    path = Path(path)
    img_dir = _image_dir(path, Path(images_dir) if images_dir else None)
    headers, rows = read_table(path, "题干")
    mapping, missing = resolve_columns(headers, COLUMNS, REQUIRED)
    if missing:
        raise BankError([RowError(1, "表头", f"缺少必需的列：{'、'.join(missing)}")])
    errors: list[RowError] = []
    items: list[Item] = []
    media: dict[str, bytes] = {}
    seen_ids: dict[str, int] = {}
    seen_content: dict[str, int] = {}
    for n, raw in rows:
        r = {f: raw.get(h, "").strip() for f, h in mapping.items()}
        bad = False
        for f in REQUIRED:
            if not r.get(f):
                errors.append(RowError(n, COLUMNS[f][0], "不能为空"))
                bad = True
        if bad:
            continue
        if not _SINGLE.match(r["qtype"]):
            errors.append(RowError(n, "题型", f"不支持的题型“{r['qtype']}”（本考试只有单选题）"))
        opts = [r.get(f"opt{k}", "") for k in OPTION_KEYS]
        while opts and not opts[-1]:
            opts.pop()
        if "" in opts:
            errors.append(RowError(n, "选项", "选项不连续（中间有空选项）"))
        if len(set(opts)) != len(opts):
            errors.append(RowError(n, "选项", "有重复的选项"))
        answer = r["answer"].upper().replace(" ", "")
        if len(answer) != 1 or answer not in OPTION_KEYS[:len(opts)]:
            errors.append(RowError(n, "答案", f"答案“{r['answer']}”应为{OPTION_KEYS[0]}–{OPTION_KEYS[len(opts) - 1]}中的一个"))
        diff = _difficulty(r["difficulty"])
        if diff is None:
            errors.append(RowError(n, "难度", f"难度应为0–1之间的难度系数或 易/较易/中/较难/难，实际为“{r['difficulty']}”"))
        if r["category"] not in CATEGORIES:
            errors.append(RowError(n, "类别", f"未知类别“{r['category']}”（应为{'/'.join(CATEGORIES)}）"))
        stem = r["stem"]
        img_file = r.get("image", "")
        m = _IMG_IN_STEM.search(stem)
        if m:
            img_file = img_file or m.group(1).strip()
            stem = _IMG_IN_STEM.sub("", stem).strip()
        image = None
        if img_file:
            p = img_dir / img_file
            ext = IMAGE_TYPES.get(p.suffix.lower())
            if not ext:
                errors.append(RowError(n, "图片", f"不支持的图片格式“{img_file}”"))
            elif not p.is_file():
                errors.append(RowError(n, "图片", f"找不到图片文件 {p}"))
            else:
                data = p.read_bytes()
                image = f"{hashlib.sha256(data).hexdigest()}.{ext}"
                media[image] = data
        content_key = hashlib.sha256("\x1f".join([r["category"], stem, *opts]).encode()).hexdigest()
        if content_key in seen_content:
            errors.append(RowError(n, "题干", f"与第{seen_content[content_key]}行重复"))
        else:
            seen_content[content_key] = n
        item_id = r.get("item_id") or f"Q{content_key[:12]}"
        if item_id in seen_ids:
            errors.append(RowError(n, "试题编号", f"与第{seen_ids[item_id]}行重复（{item_id}）"))
        else:
            seen_ids[item_id] = n
        if errors and errors[-1].row == n:
            continue
        items.append(Item(item_id=item_id, category=r["category"], topic=r["topic"],
                          difficulty=round(diff, 4), stem=stem, options=tuple(opts),
                          answer=answer, image=image, qtype=r["qtype"]))
    if not items and not errors:
        errors.append(RowError(0, "题库", "没有任何试题"))
    if errors:
        raise BankError(sorted(errors, key=lambda e: e.row))
    return Bank(items, media)


BANK_HEADERS = ["试题编号", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "答案",
                "难度", "知识点", "类别", "图片"]


def write_bank(path: str | Path, bank: Bank) -> None:
    """Export a bank in the import layout; images go to ``<sheet>_images/``."""
    path = Path(path)
    img_dir = path.with_name(path.stem + "_images")
    rows = []
    for it in bank.items:
        opts = list(it.options) + [""] * (5 - len(it.options))
        if it.image:
            img_dir.mkdir(parents=True, exist_ok=True)
            (img_dir / it.image).write_bytes(bank.media[it.image])
        rows.append([it.item_id, it.qtype, it.stem, *opts, it.answer, f"{it.difficulty:.2f}",
                     it.topic, it.category, it.image or ""])
    write_table(path, BANK_HEADERS, rows)
