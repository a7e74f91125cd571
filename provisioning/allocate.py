"""Allocation of a site's candidates to sittings (场次) and rooms (考场), with seat numbers."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from .sites import Site

DEFAULT_SESSIONS = ("09:00", "10:40", "14:30", "16:10")


class AllocationError(ValueError):
    pass


@dataclass
class Layout:
    """How a site runs: rooms (None = as few as needed, at most ``max_rooms``), seats per room,
    session start times per day (Beijing time)."""
    rooms: int | None = None
    capacity: int = 30
    sessions: tuple[str, ...] = DEFAULT_SESSIONS
    max_rooms: int = 8
    room_names: dict[int, str] = field(default_factory=dict)


def sitting_id(day: int, session: int, room: int) -> str:
    return f"D{day}S{session}-R{room:02d}"


def allocate(site: Site, candidates: list[dict], layout: Layout) -> tuple[list[dict], list[dict]]:
    """Fill in ``sitting_id`` and ``seat_no`` on candidates (in place) and return (rooms, sittings).

    A candidate may come with ``date`` (考试日期), ``session`` (场次, 1-based within the day),
    ``room`` (考场, number) and ``seat_no``: these are respected; the rest fill the earliest
    sittings, spread evenly over the rooms. Only sittings that have candidates are returned.
    """
    days = list(site.exam_dates)
    n_sess = len(layout.sessions)
    fixed_rooms = [int(c["room"]) for c in candidates if c.get("room")]
    rooms = layout.rooms
    if rooms is None:
        free = len(candidates)
        per_slot_needed = math.ceil(free / (len(days) * n_sess)) if free else 1
        rooms = min(layout.max_rooms, max(1, math.ceil(per_slot_needed / layout.capacity),
                                          max(fixed_rooms, default=1)))
    if fixed_rooms and max(fixed_rooms) > rooms:
        raise AllocationError(f"考点{site.site_no}: 名单指定了第{max(fixed_rooms)}考场，但只有{rooms}个考场")
    slots = [(d, s) for d in range(1, len(days) + 1) for s in range(1, n_sess + 1)]
    count: dict[tuple[int, int, int], int] = defaultdict(int)
    free_list = []
    for c in candidates:
        d = c.get("date")
        s = c.get("session")
        r = c.get("room")
        if not (d or s or r):
            free_list.append(c)
            continue
        if not (d and s and r):
            # partially fixed: treat the given parts as constraints, fill the rest below
            free_list.append(c)
            continue
        if d not in days:
            raise AllocationError(f"考生{c['ticket']}: 考试日期{d}不是考点{site.site_no}的考试日")
        di, s, r = days.index(d) + 1, int(s), int(r)
        if not 1 <= s <= n_sess:
            raise AllocationError(f"考生{c['ticket']}: 场次{s}超出每天{n_sess}场")
        key = (di, s, r)
        count[key] += 1
        if count[key] > layout.capacity:
            raise AllocationError(f"考点{site.site_no}: {sitting_id(*key)}人数超过容量{layout.capacity}")
        c["_slot"] = key
    # Even spread: number of slots needed for the free candidates, in order.
    total_cap = len(slots) * rooms * layout.capacity
    if len(candidates) > total_cap:
        raise AllocationError(f"考点{site.site_no}: {len(candidates)}名考生超过总容量{total_cap}"
                              f"（{rooms}个考场×{len(slots)}个场次×{layout.capacity}座）")
    order = [(d, s, r) for d, s in slots for r in range(1, rooms + 1)]
    free_list.sort(key=lambda c: c["ticket"])
    # constrained first (date/session/room partially given), then the rest
    constrained = [c for c in free_list if c.get("date") or c.get("session") or c.get("room")]
    plain = [c for c in free_list if not (c.get("date") or c.get("session") or c.get("room"))]
    for c in constrained:
        for key in order:
            d, s, r = key
            if c.get("date") and days[d - 1] != c["date"]:
                continue
            if c.get("session") and int(c["session"]) != s:
                continue
            if c.get("room") and int(c["room"]) != r:
                continue
            if count[key] < layout.capacity:
                count[key] += 1
                c["_slot"] = key
                break
        else:
            raise AllocationError(f"考生{c['ticket']}: 没有满足指定日期/场次/考场的空位")
    # the rest fill sittings in time order (fewer sittings to run), spread evenly over rooms
    i = 0
    for d, s in slots:
        if i == len(plain):
            break
        keys = [(d, s, r) for r in range(1, rooms + 1)]
        left = min(len(plain) - i, sum(layout.capacity - count[k] for k in keys))
        while left:
            for k in keys:
                if left and count[k] < layout.capacity:
                    plain[i]["_slot"] = k
                    count[k] += 1
                    i += 1
                    left -= 1
    # seats: fixed seats are kept; others take the lowest free seat numbers
    by_slot: dict[tuple[int, int, int], list[dict]] = defaultdict(list)
    for c in candidates:
        by_slot[c["_slot"]].append(c)
    for key, group in by_slot.items():
        taken: set[int] = set()
        for c in group:
            if c.get("seat_no"):
                seat = int(c["seat_no"])
                if seat in taken:
                    raise AllocationError(f"{sitting_id(*key)}: 座位号{seat}重复")
                if not 1 <= seat <= layout.capacity:
                    raise AllocationError(f"{sitting_id(*key)}: 座位号{seat}超出1-{layout.capacity}")
                taken.add(seat)
        nxt = 1
        for c in sorted(group, key=lambda c: c["ticket"]):
            if not c.get("seat_no"):
                while nxt in taken:
                    nxt += 1
                c["seat_no"] = nxt
                taken.add(nxt)
            c["seat_no"] = int(c["seat_no"])
    # outputs
    room_list = [{"room_id": f"R{r:02d}", "name": layout.room_names.get(r, f"第{r}考场"),
                  "capacity": layout.capacity} for r in range(1, rooms + 1)]
    slot_no = {ds: n for n, ds in enumerate(slots, start=1)}
    sittings = []
    for key in sorted(by_slot):
        d, s, r = key
        date = days[d - 1]
        sittings.append({"sitting_id": sitting_id(*key), "sitting_no": slot_no[(d, s)],
                         "room_id": f"R{r:02d}", "date": date,
                         "planned_start": f"{date}T{layout.sessions[s - 1]}:00+08:00"})
    for c in candidates:
        c["sitting_id"] = sitting_id(*c.pop("_slot"))
    return room_list, sittings
