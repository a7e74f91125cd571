"""Issue 13 item 2: the phone at large text with real content. A 360x640 phone at 100 % and
150 % text, and at 150 % page zoom, on a short A1 item, a long A2 case with a large ECG and an
A3 group: the header stays one line, header and footer leave most of the screen to the
question, the "options below" hint covers nothing, and an image opens full screen and zooms
with two fingers. Screenshots: test-output/browser/large_text_*.png.

Text at 150 % is the browser's default font size at 24 px instead of 16 (CDP
Page.setFontSizes): the app's text is in rem, so it scales with it as it does with a phone's
own text-size setting."""
from __future__ import annotations

import hashlib
import random

import pytest
from playwright.sync_api import expect

from browser_support import CHROMIUM, CHROMIUM_ARGS, RealHall, into_exam

pytestmark = pytest.mark.browser

SHORT = "【演示题】内科学第1题：关于诊断要点，下列说法正确的是"


@pytest.fixture(scope="module")
def real_content_hall(tmp_path_factory):
    """Question 1 short, 2 a long A2 case with a large ECG, 3-4 an A3 group."""
    from provisioning import demo_cases, demo_images

    tmp = tmp_path_factory.mktemp("largetext")
    h = RealHall(tmp, questions=6, candidates_per_room=4)
    rng = random.Random(13)
    png, _ = demo_images.ecg(13, "ECG test")
    name = hashlib.sha256(png).hexdigest() + ".png"
    h.plan["media"][name] = png
    long_stem = "【演示题】" + demo_cases.a2_stem("临床", rng, with_image=True)
    while len(long_stem) < 300:
        long_stem = "【演示题】" + demo_cases.a2_stem("临床", rng, with_image=True)
    group = ["【演示题】" + s for s in demo_cases.a3_group("临床", rng, 2)]
    for paper in h.plan["papers"].values():
        qs = paper["questions"]
        qs[0]["stem"] = SHORT
        qs[1]["stem"], qs[1]["image"] = long_stem, name
        qs[2]["stem"], qs[3]["stem"] = group
        for q in qs:
            q["options"] = [{"key": k, "text": f"{t}（演示选项）"} for k, t in
                            zip("ABCDE", ("急性心肌梗死", "不稳定型心绞痛", "主动脉夹层", "急性肺栓塞", "急性心包炎"))]
    from hallproc import HallProcess
    h.proc = HallProcess(tmp / "hall2", h.plan)     # the constructor imported the plain plan into "hall"
    h.base_url = h.proc.url
    h.start()
    h.start_sitting()
    h.long_len = len(long_stem)
    yield h
    h.close()


def _phone(p, text_scale=1.0, zoom=1.0):
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    ctx = browser.new_context(viewport={"width": round(360 / zoom), "height": round(640 / zoom)}, is_mobile=True,
                              has_touch=True, device_scale_factor=2 * zoom, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.text_scale = text_scale
    _text_size(page)
    return browser, page


def _text_size(page):
    """The phone's text size; set again after a full-page screenshot, which resets it."""
    if page.text_scale != 1.0:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Page.setFontSizes", {"fontSizes": {"standard": round(16 * page.text_scale),
                                                     "fixed": round(13 * page.text_scale)}})


def _exam(hall, page, who: int):
    c = [x for x in hall.plan["candidates"] if x["sitting_id"] == hall.sitting][who]
    into_exam(page, hall, start=False, url=f"{hall.base_url}/r/{hall.proc.qr_token(hall.sitting)}",
              ticket=c["ticket"], id6=c["id_number"][-6:])
    expect(page.locator("#qno")).to_have_text("1")


def _go(page, q):
    page.click("#grid-btn")
    page.click(f"#grid .cell[data-q='{q}']")
    expect(page.locator("#qno")).to_have_text(str(q))
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)


MEASURE = """() => {
  const r = el => el.getBoundingClientRect();
  const lines = el => { const g = document.createRange(); g.selectNodeContents(el);
    const rs = [...g.getClientRects()].filter(x => x.width > 0).sort((a, b) => a.top - b.top);
    let n = 0, bottom = -1e9;             // rects that overlap vertically share a line
    for (const x of rs) { if (x.top >= bottom - 2) { n++; bottom = x.bottom; } else bottom = Math.max(bottom, x.bottom); }
    return n; };
  const top = document.getElementById('exam-top'), bar = document.querySelector('.bottombar');
  const hint = document.getElementById('opt-hint');
  const opts = [...document.querySelectorAll('.opt')];
  return {
    vh: window.innerHeight, vw: window.innerWidth,
    headH: r(top).height, headBottom: r(top).bottom, barTop: r(bar).top, barH: r(bar).height,
    headLines: ['.topbar .qno', '#clock', '#grid-btn'].map(s => lines(document.querySelector(s))),
    stemFont: parseFloat(getComputedStyle(document.getElementById('stem')).fontSize),
    stemLine: parseFloat(getComputedStyle(document.getElementById('stem')).lineHeight),
    optsInView: opts.filter(o => r(o).top >= r(top).bottom - 1 && r(o).bottom <= r(bar).top + 1).length,
    hintShown: !!hint && !hint.hidden, hintInBar: !!hint && bar.contains(hint) &&
      (hint.hidden || (r(hint).top >= r(bar).top - 1 && r(hint).bottom <= r(bar).bottom + 1)),
    overflow: document.scrollingElement.scrollWidth - window.innerWidth,
  };
}"""


@pytest.mark.parametrize("who,scale", [(0, 1.0), (1, 1.5)])
def test_large_text_keeps_the_question_on_screen(real_content_hall, shots, who, scale):
    from playwright.sync_api import sync_playwright

    hall = real_content_hall
    tag = f"{round(scale * 100)}pct"
    with sync_playwright() as p:
        browser, page = _phone(p, text_scale=scale)
        try:
            _exam(hall, page, who)
            m = page.evaluate(MEASURE)
            page.screenshot(path=str(shots / f"large_text_{tag}_short.png"))
            assert m["stemFont"] >= 20 * scale, m          # the text really is at the phone's size
            assert m["headLines"] == [1, 1, 1], m          # header on one line
            assert m["headH"] + m["barH"] <= 0.30 * m["vh"], m
            assert m["optsInView"] >= (5 if scale == 1.0 else 3), m
            assert m["overflow"] <= 0, m

            _go(page, 2)                                    # the long case with its ECG
            page.wait_for_timeout(300)
            m = page.evaluate(MEASURE)
            page.screenshot(path=str(shots / f"large_text_{tag}_long.png"))
            assert m["headLines"] == [1, 1, 1], m
            assert m["hintShown"] and m["hintInBar"], m     # the hint is in the bar: it covers nothing
            page.screenshot(path=str(shots / f"large_text_{tag}_long_full.png"), full_page=True)
            _text_size(page)
            _go(page, 3)                                    # an A3 question: the shared case in its box
            expect(page.locator("#stem .case")).to_be_visible()
            m = page.evaluate(MEASURE)
            assert m["stemFont"] >= 20 * scale and m["headLines"] == [1, 1, 1], m
            page.screenshot(path=str(shots / f"large_text_{tag}_a3.png"))
        finally:
            browser.close()


def test_page_zoom_150_leaves_the_screen_to_the_case(real_content_hall, shots):
    """At 150 % page zoom (a 240 CSS px wide screen) a long case is read many lines at a time."""
    from playwright.sync_api import sync_playwright

    hall = real_content_hall
    with sync_playwright() as p:
        browser, page = _phone(p, zoom=1.5)
        try:
            _exam(hall, page, 2)
            _go(page, 2)
            m = page.evaluate(MEASURE)
            page.screenshot(path=str(shots / "large_text_zoom150_long.png"))
            assert m["headLines"] == [1, 1, 1], m
            visible = m["barTop"] - m["headBottom"]
            assert visible >= 0.55 * m["vh"], m
            assert visible / m["stemLine"] >= 6, m          # lines of the case on screen at once
        finally:
            browser.close()


def test_image_opens_full_screen_and_pinch_zooms(real_content_hall, shots):
    from playwright.sync_api import sync_playwright

    hall = real_content_hall
    with sync_playwright() as p:
        browser, page = _phone(p, text_scale=1.5)
        try:
            _exam(hall, page, 3)
            _go(page, 2)
            img = page.locator("img.qimg")
            img.scroll_into_view_if_needed()
            page.wait_for_function("document.querySelector('img.qimg').naturalWidth > 1000")
            img.click()
            expect(page.locator("#viewer")).to_be_visible()
            stage = page.locator("#viewer-stage").bounding_box()
            width0 = page.evaluate("document.querySelector('.viewer-img').getBoundingClientRect().width")
            assert width0 >= 0.95 * page.viewport_size["width"]
            page.screenshot(path=str(shots / "large_text_image_viewer.png"))
            cdp = page.context.new_cdp_session(page)
            cx, cy = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
            pts = lambda d: [{"x": cx - d, "y": cy, "id": 0}, {"x": cx + d, "y": cy, "id": 1}]
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": pts(30)})
            for d in (45, 60, 75, 90):
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": pts(d)})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            width1 = page.evaluate("document.querySelector('.viewer-img').getBoundingClientRect().width")
            assert width1 >= 2.5 * width0, (width0, width1)  # two fingers apart three times as far
            expect(page.locator("#viewer-scale")).not_to_have_text("100%")
            page.screenshot(path=str(shots / "large_text_image_pinched.png"))
            page.click("#viewer-close")
            expect(page.locator("#viewer")).to_have_count(0)
            expect(page.locator("#qno")).to_have_text("2")
        finally:
            browser.close()
