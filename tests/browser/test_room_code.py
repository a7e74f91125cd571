"""Issue 13 item 6: the poster's typed fallback is short: the laptop's address and a 4-letter
room code, printed large. A phone types both (no QR) and reaches its room's login; a wrong
code gets a Chinese error and guessing is slowed down."""
from __future__ import annotations

import io
import re

import pdfplumber
import pytest
import requests
from playwright.sync_api import expect

from browser_support import log_in

pytestmark = pytest.mark.browser


def _poster(hall) -> tuple[str, list]:
    chief = hall.proc.staff_session()
    pdf = chief.get(f"{hall.base_url}/console/sitting/{hall.sitting}/print/poster.pdf").content
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == 1
        page = doc.pages[0]
        inside = [c for c in page.chars if c["x0"] >= 15 and c["x1"] <= page.width - 15 and c["bottom"] <= page.height - 15]
        assert len(inside) == len(page.chars), "text runs off the page"
        return page.extract_text(), page.chars


def test_poster_address_and_code_get_a_phone_in(phone_hall, phone, shots):
    hall = phone_hall
    text, chars = _poster(hall)
    flat = re.sub(r"\s+", "", text)
    assert hall.base_url in flat                                  # http://127.0.0.1:<port>
    assert "/r/" not in flat                                      # the 160-character token is not printed
    m = re.search(r"考场码\s*\n([A-Z0-9](?: [A-Z0-9]){3})\s*$", text, re.M)
    assert m, text
    code = m.group(1).replace(" ", "")
    line = [c for c in chars if c["text"] in code and c["size"] >= 28]     # printed large (32 pt)
    assert "".join(c["text"] for c in sorted(line, key=lambda c: c["x0"])) == code
    addr = [c for c in chars if c["text"] == ":" and c["size"] >= 18]
    assert addr, "the address is printed large"

    # a phone without the QR: the address, then the code, as typed by a person
    page = phone
    page.goto(hall.base_url)
    page.fill("#code", code.lower())
    page.screenshot(path=str(shots / "room_code_landing.png"))
    page.click("button[type=submit]")
    expect(page.locator("#ticket")).to_be_visible()
    assert "/r/" in page.url
    log_in(page, hall, goto=False)
    expect(page.locator("#category")).to_be_visible()           # logged in to the right room


def test_wrong_room_code_is_refused_in_chinese_and_slowed(phone_hall):
    hall = phone_hall
    r = requests.get(f"{hall.base_url}/k/ZZZZ", allow_redirects=False, timeout=10)
    assert r.status_code == 404 and "考场码不正确" in r.text
    codes = []
    for i in range(8):
        r = requests.get(f"{hall.base_url}/k", params={"code": f"AAA{i}"}, allow_redirects=False, timeout=10)
        codes.append(r.status_code)
    assert 429 in codes and "尝试次数过多" in r.text, codes
