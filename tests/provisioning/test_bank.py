import csv

import pytest

from provisioning.bankio import BANK_HEADERS, BankError, load_bank, write_bank
from provisioning.synth import demo_bank


def test_roundtrip_xlsx_with_images(tmp_path):
    bank = demo_bank(1, per_category=30)
    write_bank(tmp_path / "bank.xlsx", bank)
    assert (tmp_path / "bank_images").is_dir()
    back = load_bank(tmp_path / "bank.xlsx")
    assert [(i.item_id, i.stem, i.options, i.answer, i.difficulty, i.topic, i.category, i.image)
            for i in back.items] == \
           [(i.item_id, i.stem, i.options, i.answer, i.difficulty, i.topic, i.category, i.image)
            for i in bank.items]
    assert back.media == bank.media


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(BANK_HEADERS)
        w.writerows(rows)
    return path


def row(**kw):
    base = {"试题编号": "", "题型": "A1", "题干": "高血压的诊断标准是", "选项A": "a", "选项B": "b",
            "选项C": "c", "选项D": "d", "选项E": "e", "答案": "B", "难度": "0.6", "知识点": "内科学",
            "类别": "临床", "图片": ""}
    base.update(kw)
    return [base[h] for h in BANK_HEADERS]


def test_image_in_stem_and_four_options(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "ecg.png").write_bytes(b"\x89PNG fake")
    p = _write(tmp_path / "b.csv", [row(题干="心电图如下[图:ecg.png]，诊断为", 选项E="", 答案="d", 难度="较难")])
    b = load_bank(p)
    it = b.items[0]
    assert it.stem == "心电图如下，诊断为" and it.options == ("a", "b", "c", "d")
    assert it.answer == "D" and it.difficulty == 0.4 and it.image.endswith(".png")
    assert b.media[it.image] == b"\x89PNG fake"


def test_errors_with_rows(tmp_path):
    p = _write(tmp_path / "b.csv", [
        row(),
        row(题型="X型题", 题干="q2"),
        row(题干="q3", 答案="F"),
        row(题干="q4", 难度="1.7"),
        row(题干="q5", 类别="护理"),
        row(题干="q6", 图片="missing.png"),
        row(),                                   # duplicate of row 2
        row(题干="q8", 选项C=""),
    ])
    with pytest.raises(BankError) as ei:
        load_bank(p)
    msgs = [str(e) for e in ei.value.errors]
    for r, f in [(3, "题型"), (4, "答案"), (5, "难度"), (6, "类别"), (7, "图片"), (8, "题干"), (9, "选项")]:
        assert any(m.startswith(f"第{r}行 {f}") for m in msgs), (r, f, msgs)
    assert "未导入任何试题" in str(ei.value)
