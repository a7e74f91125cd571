"""Console events for one candidate's exceptions (issue 17 items 1-3; docs/protocol.md):
stop_attempt, move_candidate, reschedule. Registered on the /staff namespace beside the
room's other actions (realtime/staff.py); each answers with the sitting's view."""
from __future__ import annotations

from ..exam.errors import ExamError
from .staff import NS


def register(channel) -> None:
    svc = channel.svc

    @channel.room_action("stop_attempt")
    def stop_attempt(p, sitting_id, staff):
        svc.stop_attempt(channel.ticket_in(p, sitting_id), p.get("reason"), p.get("text"), staff)

    @channel.room_action("move_candidate")
    def move_candidate(p, sitting_id, staff):
        moved = svc.move_candidate(channel.ticket_in(p, sitting_id), p.get("to_sitting"), p.get("seat_no"),
                                   p.get("reason"), staff)
        return {"moved": moved}

    @channel.room_action("reschedule")
    def reschedule(p, sitting_id, staff):
        ticket = p.get("ticket")
        if ticket is None:   # the whole sitting: the chief's decision (附件5 三4, reported upwards)
            if channel.staff().role != "chief":
                raise ExamError("forbidden", "整场改为待重考须由主考操作")
        else:
            ticket = channel.ticket_in(p, sitting_id)
        return {"rescheduled": svc.reschedule(sitting_id, ticket, p.get("reason"), p.get("text"), staff)}


def push_moved(channel, ticket: str, from_sitting: str) -> None:
    """The room a candidate left drops the row (the room joined gets it as a `candidate`)."""
    c = channel.svc.candidates.get(ticket)
    channel.sio.emit("candidate_moved", {"ticket": ticket, "to": c["sitting_id"] if c else None},
                     to=f"watch:{from_sitting}", namespace=NS)
