"""The console's print buttons return real PDFs filled from the database."""
import io

import pdfplumber

from hallproc import Phone


def _text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "\n".join(page.extract_text() or "" for page in doc.pages)


def test_print_buttons(hall, plan):
    c = plan["candidates"][0]
    p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
    assert p.login(c["sitting_id"])["ok"]
    s = hall.staff_session()
    for doc, must in [("sign-in", "考生一览表"), ("room-record", "考场情况记录表"), ("poster", "第1考场"),
                      ("answer-cards", "答题卡")]:
        r = s.get(f"{hall.url}/console/sitting/D1S1-R01/print/{doc}.pdf")
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf", (doc, r.status_code, r.text[:300])
        text = _text(r.content)
        assert must in text, doc
        if doc == "sign-in":
            assert c["name"] in text
    r = s.get(f"{hall.url}/console/print/site-report.pdf")
    assert r.status_code == 200 and "合格分数线" in _text(r.content)
    inv = hall.staff_session("r02", "r02-pw")
    assert inv.get(f"{hall.url}/console/sitting/D1S1-R01/print/sign-in.pdf").status_code == 403
    assert inv.get(f"{hall.url}/console/print/site-report.pdf").status_code == 403
    assert s.get(f"{hall.url}/console/sitting/D1S1-R01/print/other.pdf").status_code == 404
