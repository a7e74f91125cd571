"""居民身份证号码 (GB 11643-1999): 18 characters, the last one a check character."""
from __future__ import annotations

import datetime as _dt
import random

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

# Chongqing administrative division codes (GB/T 2260), by district/county name.
CHONGQING_CODES = {
    "万州区": "500101", "涪陵区": "500102", "渝中区": "500103", "大渡口区": "500104",
    "江北区": "500105", "沙坪坝区": "500106", "九龙坡区": "500107", "南岸区": "500108",
    "北碚区": "500109", "綦江区": "500110", "大足区": "500111", "渝北区": "500112",
    "巴南区": "500113", "黔江区": "500114", "长寿区": "500115", "江津区": "500116",
    "合川区": "500117", "永川区": "500118", "南川区": "500119", "璧山区": "500120",
    "铜梁区": "500151", "潼南区": "500152", "荣昌区": "500153", "开州区": "500154",
    "梁平区": "500155", "武隆区": "500156", "城口县": "500229", "丰都县": "500230",
    "垫江县": "500231", "忠县": "500233", "云阳县": "500235", "奉节县": "500236",
    "巫山县": "500237", "巫溪县": "500238", "石柱县": "500240", "秀山县": "500241",
    "酉阳县": "500242", "彭水县": "500243",
    # Functional areas without their own code: the district they lie in.
    "万盛区": "500110", "两江新区": "500112", "高新区": "500106",
}


def check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("需要17位数字")
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def normalize(id_number: object) -> str:
    """Strip blanks and upper-case a trailing x; spreadsheets also turn IDs into floats."""
    s = str(id_number if id_number is not None else "").strip().replace(" ", "")
    return s[:-1] + "X" if s.endswith("x") else s


def id_problem(id_number: str) -> str | None:
    """None if valid, else a Chinese description of what is wrong."""
    s = normalize(id_number)
    if len(s) != 18:
        return f"身份证号应为18位，实际{len(s)}位"
    if not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        return "身份证号含非法字符"
    try:
        birth = _dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return "身份证号中的出生日期无效"
    if birth.year < 1900 or birth > _dt.date.today():
        return "身份证号中的出生日期不合理"
    if check_char(s[:17]) != s[17]:
        return "身份证号校验位错误"
    return None


def is_valid(id_number: str) -> bool:
    return id_problem(id_number) is None


def gender_of(id_number: str) -> str:
    return "男" if int(normalize(id_number)[16]) % 2 else "女"


def make_id(rng: random.Random, region: str, gender: str,
            birth_from: int = 1960, birth_to: int = 1995) -> str:
    """A synthetic but checksum-valid ID number."""
    start = _dt.date(birth_from, 1, 1).toordinal()
    end = _dt.date(birth_to, 12, 31).toordinal()
    birth = _dt.date.fromordinal(rng.randint(start, end))
    seq = rng.randint(0, 99)
    sex = rng.choice((1, 3, 5, 7, 9) if gender == "男" else (0, 2, 4, 6, 8))
    first17 = f"{region}{birth:%Y%m%d}{seq:02d}{sex}"
    return first17 + check_char(first17)


def region_for(district: str, rng: random.Random) -> str:
    code = CHONGQING_CODES.get(district)
    if code:
        return code
    return rng.choice([c for c in CHONGQING_CODES.values() if c.startswith("5001")])
