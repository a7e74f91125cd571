"""Building a site plan (docs/site-plan.md) from allocated candidates and assembled papers."""
from __future__ import annotations

from contracts.exam import EXAM_DEFAULTS

PLAN_FORMAT = "hall-site-plan/1"
CANDIDATE_FIELDS = ("ticket", "name", "gender", "id_number", "category", "level", "unit",
                    "department", "sitting_id", "seat_no")


def plan_candidates(candidates: list[dict]) -> list[dict]:
    rows = [{k: c.get(k, "") for k in CANDIDATE_FIELDS} for c in candidates]
    return sorted(rows, key=lambda r: (r["sitting_id"], r["seat_no"], r["ticket"]))


def media_for(papers: dict, media: dict[str, bytes]) -> dict[str, bytes]:
    names = {q["image"] for p in papers.values() for q in p["questions"] if q.get("image")}
    missing = names - media.keys()
    if missing:
        raise ValueError(f"试题图片缺失: {sorted(missing)[:5]}")
    return {n: media[n] for n in sorted(names)}


def build_plan(*, site: dict, rooms: list[dict], sittings: list[dict], candidates: list[dict],
               papers: dict, keys: dict, media: dict[str, bytes], staff: list[dict],
               site_key: dict, exam: dict | None = None, demo: bool = False) -> dict:
    return {
        "format": PLAN_FORMAT,
        "demo": demo,
        "site": site,
        "exam": dict(exam or EXAM_DEFAULTS),
        "rooms": rooms,
        "sittings": sittings,
        "candidates": plan_candidates(candidates),
        "papers": papers,
        "keys": keys,
        "media": media_for(papers, media),
        "staff": staff,
        "site_key": site_key,
    }


PATROL = "patrol"


def staff_usernames(rooms: list[dict]) -> list[str]:
    """The site's accounts: the chief, two invigilators per room (附件2: at least two in each
    room; r01 and r01b) and one site-wide patrol (巡考: watches every room, records
    violations and incidents, never starts or ends a sitting)."""
    users = ["chief"]
    for r in rooms:
        n = int(r["room_id"][1:])
        users += [f"r{n:02d}", f"r{n:02d}b"]
    return users + [PATROL]


def staff_for(rooms: list[dict], passwords: dict[str, str]) -> list[dict]:
    staff = [{"username": "chief", "display_name": "主考", "role": "chief", "room_id": None,
              "password": passwords["chief"]}]
    for r in rooms:
        n = int(r["room_id"][1:])
        for user, which in ((f"r{n:02d}", "一"), (f"r{n:02d}b", "二")):
            staff.append({"username": user, "display_name": f"{r['name']}监考{which}", "role": "invigilator",
                          "room_id": r["room_id"], "password": passwords[user]})
    staff.append({"username": PATROL, "display_name": "巡考", "role": "patrol", "room_id": None,
                  "password": passwords[PATROL]})
    return staff
