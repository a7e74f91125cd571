import re

from hall_server.printing import site_report
from contracts.exam import CATEGORIES
from hall_server.printing.site_report import STATEMENT
from printing_helpers import attendance, pages_text, save_and_render, squash


def test_site_report(site_db):
    before = site_db.conn.total_changes
    pdf = site_report(site_db)
    assert site_db.conn.total_changes == before
    save_and_render(pdf, "site-report")
    pages = pages_text(pdf)
    for i, text in enumerate(pages, 1):
        assert f"第 {i} 页 共 {len(pages)} 页" in text
    everything = "\n".join(pages)
    flat = squash(everything)
    assert STATEMENT == "合格分数线由市级统一划定，本表仅列原始分"
    assert flat.count(STATEMENT) == 2  # under the title and above the signature
    assert "不合格" not in flat

    # 实考/缺考 by the one definition (hall_server/exam/counts.py), per room and category
    gone = {t for (sid,) in site_db.execute("SELECT sitting_id FROM sittings") for t in attendance(site_db, sid).absentees}
    rows = list(site_db.query(
        "SELECT r.name AS room, c.category, COUNT(*) AS expected, GROUP_CONCAT(c.ticket) AS tickets,"
        " SUM(COALESCE(a.status = 'submitted', 0)) AS submitted,"
        " SUM(COALESCE(a.status = 'terminated', 0)) AS terminated"
        " FROM candidates c JOIN sittings s USING (sitting_id) JOIN rooms r USING (room_id)"
        " LEFT JOIN attempts a USING (ticket) GROUP BY r.name, c.category"))
    for r in rows:
        r["absent"] = len(set(r["tickets"].split(",")) & gone)
        r["present"] = r["expected"] - r["absent"]
    order = lambda r: (r["room"], CATEGORIES.index(r["category"]))
    lines = everything.splitlines()
    at = 0
    for r in sorted(rows, key=order):  # the summary rows, in print order
        want = f"{r['category']} {r['expected']} {r['present']} {r['absent']} {r['submitted']} {r['terminated']}"
        while at < len(lines) and want not in lines[at]:
            at += 1
        assert at < len(lines), want
        at += 1
    total = site_db.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]
    assert re.search(rf"全考点 合计 {total} {total - len(gone)} {len(gone)} ", everything)

    for a in site_db.query("SELECT a.*, c.name FROM attempts a JOIN candidates c USING (ticket)"):
        assert (a["ticket"] in everything) == (a["ticket"] not in gone)
        if a["status"] == "submitted":
            assert a["receipt"] in everything
    for cat in CATEGORIES:
        n = site_db.execute(
            "SELECT COUNT(*) FROM attempts a JOIN candidates c USING (ticket) "
            "WHERE c.category = ? AND a.status = 'submitted' AND a.score IS NOT NULL", [cat]).fetchone()[0]
        assert f"{cat}（{n} 人）" in everything
