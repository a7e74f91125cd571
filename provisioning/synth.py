"""Synthetic data: candidates and a demo item bank. Clearly marked as demo data."""
from __future__ import annotations

import hashlib
import random

from contracts.exam import CATEGORIES, LEVELS

from .idcard import make_id, region_for
from .model import Bank, Item
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


def media_name(data: bytes, ext: str = "png") -> str:
    return f"{hashlib.sha256(data).hexdigest()}.{ext}"


# Shares of the demo bank's item types (the rest is A1): long single-case A2 items and A3
# groups of GROUP_SIZE questions on one shared case, as on real 测评 papers.
A2_SHARE, A3_SHARE, GROUP_SIZE = 0.30, 0.12, 3
IMAGE_REUSE = 6               # items per image: a 100-question paper shows a few images
# Large images per category: (drawing, label) in the order items get them.
DEMO_IMAGES = {
    "临床": (("ecg", "ECG"), ("chest_xray", "CXR")),
    "中医": (("ecg_regular", "ECG"), ("chest_xray", "CXR")),
    "口腔": (("dental_panoramic", "PANO"), ("chest_xray", "CXR")),
    "公共卫生": (("epidemic_curve", "EPI"), ("epidemic_curve", "EPI")),
}


def demo_image(kind: str, seed: int, label: str) -> tuple[bytes, str]:
    from . import demo_images as D
    if kind == "ecg_regular":
        return D.ecg(seed, label, irregular=False, st_mv=0.25)
    return getattr(D, kind)(seed, label)


def demo_bank(seed: int = 2023, per_category: int = 320, images_per_category: int = 2,
              categories: tuple[str, ...] = CATEGORIES) -> Bank:
    """A synthetic bank: stems start with 【演示题】, 难度系数 0.30-0.80, options A-E.

    Like a real bank it mixes short A1 items, A2 items on a 150-400 character case (the
    first ``images_per_category`` of them with a large image: ECG, radiograph, panoramic
    film, epidemic curve) and A3 groups of three questions on one shared case."""
    from . import demo_cases
    rng = random.Random(f"demo-bank:{seed}")
    items: list[Item] = []
    media: dict[str, bytes] = {}
    drawn: dict[tuple[int, int], str] = {}
    for ci, cat in enumerate(categories):
        topics = TOPICS[cat]
        n_a3 = int(per_category * A3_SHARE) // GROUP_SIZE * GROUP_SIZE
        n_a2 = int(per_category * A2_SHARE)
        k = 0
        while k < per_category:
            topic = topics[k % len(topics)]
            concept = rng.choice(_CONCEPTS)
            diff = round(rng.uniform(0.30, 0.80), 2)
            n_opt = 5
            image, group = None, None
            if k < n_a3 and k + GROUP_SIZE <= per_category:      # one A3 group: same topic and difficulty
                group = f"DEMO-{ci + 1}-G{k // GROUP_SIZE + 1:03d}"
                stems = demo_cases.a3_group(cat, rng, GROUP_SIZE)
                qtype = "A3"
            elif k < n_a3 + n_a2:
                j = k - n_a3
                if j < images_per_category * IMAGE_REUSE:        # several items may show one image
                    j %= images_per_category
                    kind, label = DEMO_IMAGES[cat][j % len(DEMO_IMAGES[cat])]
                    if (ci, j) not in drawn:
                        data, ext = demo_image(kind, seed * 100 + ci * 10 + j, f"{label} {ci + 1}-{j + 1}")
                        drawn[ci, j] = media_name(data, ext)
                        media[drawn[ci, j]] = data
                    image = drawn[ci, j]
                stems = [demo_cases.a2_stem(cat, rng, with_image=image is not None)]
                qtype = "A2"
            else:
                stems = [f"{topic}第{k // len(topics) + 1}题：关于{concept}，下列说法正确的是"]
                qtype = "A1"
            for stem in stems:
                opts = [f"{topic}{concept}的表述{_OPTION_WORDS[j]}（{cat}{k + 1}-{j + 1}）" for j in range(n_opt)]
                if rng.random() < 0.05:
                    opts[-1] = "以上都是"
                items.append(Item(item_id=f"DEMO-{ci + 1}-{k + 1:04d}", category=cat, topic=topic,
                                  difficulty=diff, stem=DEMO_STEM_PREFIX + stem, options=tuple(opts),
                                  answer="ABCDE"[rng.randrange(n_opt)], image=image, qtype=qtype, group=group))
                k += 1
    return Bank(items, media)
