"""Readability at the smallest phone we expect (360x640): a long stem, an image, long
options. Big text, big targets, nothing wider than the screen."""
from __future__ import annotations

import hashlib
import io

import pytest
from playwright.sync_api import expect

from browser_support import CHROMIUM, CHROMIUM_ARGS, RealHall, into_exam

pytestmark = [pytest.mark.browser]

LONG_STEM = ("患者，女，62岁。反复活动后胸闷、气促3年，加重伴双下肢水肿1周。既往高血压病史20年，"
             "糖尿病病史10年，规律服药。查体：BP 150/90 mmHg，颈静脉怒张，双肺底可闻及湿啰音，心界向左下扩大，"
             "心率110次/分，律不齐，心音强弱不等。心电图检查结果见下图。该患者最可能的心律失常类型是")
LONG_OPTS = ["心房颤动伴快速心室率，需要尽快控制心室率并评估抗凝治疗的指征",
             "阵发性室上性心动过速", "窦性心动过速伴频发房性期前收缩", "心房扑动（2:1下传）",
             "室性心动过速，应立即准备同步电复律"]


def _png(w=600, h=240) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    for x in range(0, w, 12):
        d.line([(x, h // 2), (x + 6, h // 2 - (40 if x % 96 == 0 else 5)), (x + 12, h // 2)], fill="black", width=2)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def hall_with_image(tmp_path):
    h = RealHall(tmp_path, questions=5)
    png = _png()
    name = hashlib.sha256(png).hexdigest() + ".png"
    h.plan["media"][name] = png
    for ticket, paper in h.plan["papers"].items():
        q = paper["questions"][0]
        q["stem"], q["image"] = LONG_STEM, name
        q["options"] = [{"key": k, "text": t} for k, t in zip("ABCDE", LONG_OPTS)]
        h.plan["keys"][ticket][0] = "A"
    # the plan is imported when the process object is built: rebuild it with the edited plan
    from hallproc import HallProcess
    h.proc = HallProcess(tmp_path / "hall2", h.plan)
    h.base_url = h.proc.url
    h.qr_url = None
    h.start()
    yield h
    h.close()


def test_question_readable_at_360x640(hall_with_image, shots):
    from playwright.sync_api import sync_playwright

    hall = hall_with_image
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="zh-CN")
        page = ctx.new_page()
        into_exam(page, hall)
        expect(page.locator("#stem")).to_contain_text("心电图")
        img = page.locator("img.qimg")
        expect(img).to_have_attribute("loading", "lazy")
        page.wait_for_timeout(300)
        # the options are below the screen (once seen, the hint does not come back)
        expect(page.locator("#opt-hint")).to_be_visible()
        page.screenshot(path=str(shots / "51_long_question_360x640.png"))
        page.click("#opt-hint")
        expect(page.locator("#opt-hint")).to_be_hidden()
        page.wait_for_timeout(800)   # smooth scroll settles
        # question number and clock stay on screen while scrolling
        assert page.evaluate("window.scrollY") > 100
        box = page.locator("#clock").bounding_box()
        assert box and 0 <= box["y"] < 80, box
        page.screenshot(path=str(shots / "53_after_hint_tap.png"))
        img.scroll_into_view_if_needed()
        page.wait_for_function("document.querySelector('img.qimg') && document.querySelector('img.qimg').naturalWidth > 0")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots / "52_long_question_full.png"), full_page=True)

        m = page.evaluate("""() => {
            const px = el => parseFloat(getComputedStyle(el).fontSize);
            const all = [...document.querySelectorAll('button, .stem, .opt .txt, .savestate')]
                .filter(el => el.offsetParent !== null);
            return {
                overflow: document.scrollingElement.scrollWidth - window.innerWidth,
                minFont: Math.min(...all.map(px)),
                small: all.filter(el => px(el) < 17).map(el => el.id || el.className),
                minTarget: Math.min(...[...document.querySelectorAll('button')].filter(el => el.offsetParent !== null)
                                    .map(el => Math.min(el.getBoundingClientRect().height, el.getBoundingClientRect().width))),
                imgWidth: document.querySelector('img.qimg').getBoundingClientRect().width,
            };
        }""")
        assert m["overflow"] <= 0, m
        assert m["minFont"] >= 17, m          # 18-21 px for reading text; 17 for the grid label
        assert m["minTarget"] >= 48, m
        assert m["imgWidth"] <= 360, m
        # the last option can be scrolled clear of the fixed bottom bar and tapped
        page.click(".opt[data-key='E']")
        expect(page.locator("#savestate")).to_have_text("✓ 已保存")
        ctx.close()
        browser.close()
