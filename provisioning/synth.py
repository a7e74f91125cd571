"""Synthetic data: candidates and a demo item bank. Clearly marked as demo data."""
from __future__ import annotations

import hashlib
import io
import random

from .idcard import make_id, region_for
from .model import CATEGORIES, LEVELS, Bank, Item
from .sites import Site

DEMO_STEM_PREFIX = "【演示题】"

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
            "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹熊秦邱江尹薛段雷侯龙"
            "陶黎贺顾毛郝龚邵万严覃向汤冉")
GIVEN_M = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林亮成兵峰建东文志国"
GIVEN_F = "芳娜敏静丽艳娟霞秀玲燕红梅琳雪倩婷颖洁琴云莉萍晶慧佳欣蓉丹玉兰英萍瑶璐"

DEPARTMENTS = {
    "临床": ("心血管内科", "呼吸内科", "消化内科", "神经内科", "内分泌科", "普外科", "骨科",
             "泌尿外科", "妇产科", "儿科", "急诊科", "麻醉科", "重症医学科", "全科医学科",
             "医学影像科", "肿瘤科"),
    "中医": ("中医科", "中医内科", "针灸推拿科", "康复医学科", "治未病中心", "中医骨伤科"),
    "口腔": ("口腔科", "口腔内科", "口腔颌面外科", "口腔修复科", "口腔正畸科", "牙周科"),
    "公共卫生": ("疾病控制科", "免疫规划科", "预防保健科", "卫生监测科", "传染病防治科",
               "职业卫生科"),
}
CATEGORY_WEIGHTS = (0.70, 0.14, 0.08, 0.08)

TOPICS = {
    "临床": ("内科学", "外科学", "妇产科学", "儿科学", "神经病学", "诊断学", "医学伦理学", "卫生法规"),
    "中医": ("中医基础理论", "中医诊断学", "中药学", "方剂学", "针灸学", "中医内科学", "卫生法规"),
    "口腔": ("口腔解剖生理学", "牙体牙髓病学", "牙周病学", "口腔颌面外科学", "口腔修复学",
             "口腔预防医学", "卫生法规"),
    "公共卫生": ("流行病学", "卫生统计学", "环境卫生学", "职业卫生与职业医学",
               "营养与食品卫生学", "传染病预防控制", "卫生法规"),
}
_CONCEPTS = ("诊断要点", "首选治疗", "常见并发症", "典型表现", "病因", "预防措施", "鉴别诊断",
             "处理原则", "检查方法", "禁忌证", "适应证", "发病机制")
_OPTION_WORDS = ("甲", "乙", "丙", "丁", "戊", "己", "庚")


def pick_name(rng: random.Random, gender: str) -> str:
    pool = GIVEN_M if gender == "男" else GIVEN_F
    given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def units_for(site: Site, district_sites: list[Site]) -> dict[str, list[str]]:
    """Plausible work units per category, from the hospitals of the site's district."""
    d = site.district if site.district != "市直属" else "重庆市"
    hospitals = sorted({s.name for s in district_sites if s.district == site.district} | {site.name})
    town = ("城关", "新华", "人和", "龙溪", "双桥", "南华")
    if site.district == "市直属":
        general = hospitals + ["重庆市急救医疗中心", "重庆市人民医院", "重庆市中医院"]
    else:
        general = hospitals + [f"{d}人民医院", f"{d}第二人民医院"] + \
            [f"{d}{t}镇卫生院" for t in town[:3]] + [f"{d}{t}街道社区卫生服务中心" for t in town[3:]]
    return {
        "临床": general,
        "中医": [f"{d}中医院"] + hospitals[:3],
        "口腔": [f"{d}口腔医院", f"{d}人民医院"] + [h for h in hospitals if "口腔" in h],
        "公共卫生": [f"{d}疾病预防控制中心", f"{d}卫生健康综合行政执法支队", f"{d}妇幼保健院"],
    }


def make_candidates(site: Site, n: int, rng: random.Random, district_sites: list[Site],
                    ticket_prefix: str, categories: tuple[str, ...] = CATEGORIES,
                    cover_all: bool = True, used_ids: set[str] | None = None) -> list[dict]:
    """n synthetic roster rows for one site (roster field names in English)."""
    units = units_for(site, district_sites)
    cats: list[str] = []
    if cover_all and n >= len(categories) * len(LEVELS):
        cats = [c for c in categories for _ in LEVELS]
    while len(cats) < n:
        cats.append(rng.choices(categories, CATEGORY_WEIGHTS[:len(categories)])[0])
    out = []
    for k, cat in enumerate(cats[:n], start=1):
        gender = rng.choice(("男", "女"))
        level = LEVELS[k % 2] if cover_all and k <= len(categories) * 2 else \
            rng.choices(LEVELS, (0.75, 0.25))[0]
        used = used_ids if used_ids is not None else set()
        while True:
            idn = make_id(rng, region_for(site.district, rng), gender)
            if idn not in used:
                used.add(idn)
                break
        out.append({
            "ticket": f"{ticket_prefix}{k:0{16 - len(ticket_prefix)}d}",
            "name": pick_name(rng, gender),
            "gender": gender,
            "id_number": idn,
            "category": cat,
            "level": level,
            "unit": rng.choice(units[cat]),
            "department": rng.choice(DEPARTMENTS[cat]),
            "site": site.site_no,
        })
    return out


def demo_png(label: str, seed: int) -> bytes:
    """A small deterministic chart-like PNG for a demo question."""
    from PIL import Image, ImageDraw
    rng = random.Random(seed)
    img = Image.new("RGB", (240, 120), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 239, 119), outline="black")
    pts = [(10 + i * 22, 100 - rng.randint(5, 85)) for i in range(11)]
    d.line(pts, fill=(200, 30, 30), width=2)
    for x in range(10, 240, 22):
        d.line((x, 105, x, 110), fill="black")
    d.text((8, 4), label, fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def media_name(data: bytes, ext: str = "png") -> str:
    return f"{hashlib.sha256(data).hexdigest()}.{ext}"


def demo_bank(seed: int = 2023, per_category: int = 320, images_per_category: int = 2,
              categories: tuple[str, ...] = CATEGORIES) -> Bank:
    """A synthetic bank: stems start with 【演示题】, 难度系数 0.30-0.80, options A-E."""
    rng = random.Random(f"demo-bank:{seed}")
    items: list[Item] = []
    media: dict[str, bytes] = {}
    for ci, cat in enumerate(categories):
        topics = TOPICS[cat]
        for k in range(per_category):
            topic = topics[k % len(topics)]
            concept = rng.choice(_CONCEPTS)
            diff = round(rng.uniform(0.30, 0.80), 2)
            n_opt = 5
            opts = [f"{topic}{concept}的表述{_OPTION_WORDS[j]}（{cat}{k + 1}-{j + 1}）" for j in range(n_opt)]
            if rng.random() < 0.05:
                opts[-1] = "以上都是"
            image = None
            if k < images_per_category:
                png = demo_png(f"DEMO {ci + 1}-{k + 1}", seed * 100 + ci * 10 + k)
                image = media_name(png)
                media[image] = png
            stem = f"{DEMO_STEM_PREFIX}{topic}第{k // len(topics) + 1}题：关于{concept}，下列说法正确的是"
            if image:
                stem += "（见图）"
            items.append(Item(item_id=f"DEMO-{ci + 1}-{k + 1:04d}", category=cat, topic=topic,
                              difficulty=diff, stem=stem, options=tuple(opts),
                              answer="ABCDE"[rng.randrange(n_opt)], image=image))
    return Bank(items, media)
