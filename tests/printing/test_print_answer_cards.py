import io
import json
import random

import pdfplumber
import pypdf
import pytest

from factories import add_candidate, add_room, add_sitting, import_site, new_plan, paper
from hall_server.db.schema import open_db
from hall_server.printing import answer_cards
from printing_helpers import pages_text, save_and_render, squash


def test_answer_cards_whole_sitting(site_db):
    sitting = "D1S1-R02"
    pdf = answer_cards(site_db, sitting)
    save_and_render(pdf, "answer-cards")
    cands = list(site_db.query(
        "SELECT c.*, p.paper_json FROM candidates c JOIN papers p USING (ticket) "
        "WHERE sitting_id = ? ORDER BY seat_no", [sitting]))
    # every page through the bookmarks (cheap); pdfplumber's slow reading on a sample
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == len(cands)  # one page per candidate, in seat order
    marks = [(reader.get_destination_page_number(o), o.title) for o in reader.outline]
    assert marks == [(i, f"{c['seat_no']}  {c['ticket']}  {c['name']}") for i, c in enumerate(cands)]
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for i in (0, len(cands) // 2, len(cands) - 1):
            c, page = cands[i], doc.pages[i]
            flat = squash(page.extract_text())
            assert c["ticket"] in flat and c["name"] in flat
            assert f"执业类别{c['category']}" in flat and f"座位号{c['seat_no']}" in flat
            assert "考场第2考场" in flat
            paper = json.loads(c["paper_json"])
            numbers = {w["text"] for w in page.extract_words()}
            assert {str(q["no"]) for q in paper["questions"]} <= numbers
            # one bubble per option of each question, four-option items included
            assert len(page.curves) == sum(len(q["options"]) for q in paper["questions"])


def test_answer_cards_selected_tickets(site_db):
    tickets = ["5001032023000040", "5001032023000022"]
    pdf = answer_cards(site_db, "D1S1-R02", tickets)
    pages = pages_text(pdf)
    assert len(pages) == 2
    assert tickets[0] in pages[0] and tickets[1] in pages[1]
    with pytest.raises(LookupError):
        answer_cards(site_db, "D1S1-R02", ["5001032023000001"])  # sits in room 1


def one_candidate_db(path, n):
    plan = new_plan(dates=("2023-09-05",), questions=n)
    add_room(plan, "R1", "第1考场", 10)
    add_sitting(plan, "S", "R1", "2023-09-05T14:00:00+08:00")
    add_candidate(plan, {"ticket": "T1", "name": "王芳", "id_number": "500103199001011234", "category": "临床",
                         "sitting_id": "S", "seat_no": 3}, *paper(n, "临床", random.Random(1), lambda q: "ABCD"))
    return open_db(import_site(path, plan))


def test_answer_cards_follow_the_paper_count(tmp_path):
    pdf = answer_cards(one_candidate_db(tmp_path / "h.db", 50), "S")  # 人文医学测评: 50 questions
    save_and_render(pdf, "answer-cards-50q")
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        page = doc.pages[0]
        words = {w["text"] for w in page.extract_words()}
        assert "50" in words and "51" not in words
        assert len(page.curves) == 50 * 4
        assert "本卷共 50 题" in page.extract_text()


def test_answer_cards_long_paper_takes_two_sheets(tmp_path):
    pdf = answer_cards(one_candidate_db(tmp_path / "h.db", 120), "S")
    pages = pages_text(pdf)
    assert len(pages) == 2
    assert "第 1/2 张" in pages[0] and "第 2/2 张" in pages[1]
    assert "T1" in pages[1] and "120" in pages[1].split() and "100" in pages[0].split()
    assert "第 2 页 共 2 页" in pages[1]
