import zxingcpp
from PIL import Image

from hall_server.printing import qr_poster
from printing_helpers import pages_text, save_and_render, squash

URL = "http://192.168.50.1:8080/r/eyJzIjoiRDFTMS1SMDEiLCJ0IjoxNjkzNzg4NDAwfQ.k7Q2M9XD3F"


def decode(png):
    found = zxingcpp.read_barcodes(Image.open(png))
    return [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]


def test_poster(site_db):
    pdf = qr_poster(site_db, "D1S1-R01", URL, "HALL-R01", "kaochang2023")
    save_and_render(pdf, "poster")
    [png] = save_and_render(pdf, "poster-150dpi", dpi=150)
    assert decode(png) == [URL]
    [text] = pages_text(pdf)
    flat = squash(text)
    # the typed fallback of a site with its key: the laptop's address and the room code
    from hall_server.auth import room_codes

    key = site_db.execute("SELECT value FROM meta WHERE key = 'site_key_private'").fetchone()[0]
    sittings = [r[0] for r in site_db.execute("SELECT sitting_id FROM sittings")]
    code = room_codes.codes_for(room_codes.secret_of(key), sittings)["D1S1-R01"]
    for s in ("第1考场", "重庆市渝中区人民医院", "第1场", "2023年9月4日09:00开考",
              "考场WiFi：HALL-R01", "WiFi密码：kaochang2023", "http://192.168.50.1:8080", code,
              "连接考场WiFi", "扫描二维码", "输入准考证号和身份证号后6位", "开考10分钟后不得入场"):
        assert s in flat, s
    assert URL not in flat


def test_poster_long_url_still_scans(site_db):
    url = "http://hall-site-0012.local:8080/r/" + "x7" * 90
    pdf = qr_poster(site_db, "D1S1-R02", url, "考场WiFi-2", "", room_code=False)   # QR rotation: the URL is typed
    [png] = save_and_render(pdf, "poster-long-url-150dpi", dpi=150)
    assert decode(png) == [url]
    flat = squash(pages_text(pdf)[0])
    assert url in flat and "（无密码）" in flat
