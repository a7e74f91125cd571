"""An empty demo site: every document still renders, and says it is demo data."""
from factories import add_room, add_sitting, import_site, new_plan
from hall_server.db.schema import open_db
from hall_server.printing import answer_cards, qr_poster, room_record, sign_in_sheet, site_report
from printing_helpers import pages_text, squash


def test_empty_demo_sitting(tmp_path):
    plan = new_plan(name="演示考点 <A&B>", dates=("2023-09-05",), demo=True, questions=100)
    add_room(plan, "R1", "第1考场", 10)
    add_sitting(plan, "S", "R1", "2023-09-05T06:00:00+00:00")
    db = open_db(import_site(tmp_path / "h.db", plan))
    docs = {
        "sign-in": sign_in_sheet(db, "S"),
        "room-record": room_record(db, "S"),
        "poster": qr_poster(db, "S", "http://10.0.0.1/r/x", "HALL", "pw"),
        "answer-cards": answer_cards(db, "S"),
        "site-report": site_report(db),
    }
    for name, pdf in docs.items():
        pages = pages_text(pdf)
        assert pages, name
        for text in pages:
            assert "演示数据" in text, name
    flat = squash(pages_text(docs["room-record"])[0])
    assert "应到人数0" in flat and "实到人数0" in flat
    assert "演示考点<A&B>" in flat  # markup characters in data are printed, not parsed
    assert "14:00开考" in squash(pages_text(docs["poster"])[0])  # planned time shown in site time
