"""Every ack has one shape: {"ok": true, "now": ms, ...} or {"ok": false, "now": ms, "error": {...}}."""
from __future__ import annotations

import functools
import logging
import time

from ..exam.errors import ExamError

log = logging.getLogger(__name__)


# Exam time (exam/clock.py), set by the app factory: phones compute their clock offset
# from `now`, so it must be the clock the deadlines are on, not the laptop's wall.
clock = time.time


def now_ms() -> int:
    return int(clock() * 1000)


def ok(**fields) -> dict:
    return {"ok": True, "now": now_ms(), **fields}


def fail(code: str, **extra) -> dict:
    return {"ok": False, "now": now_ms(), "error": ExamError(code, **extra).as_error()}


def _ack(fn, lead: tuple, args: tuple) -> dict:
    """Call fn(*lead, payload): ExamError becomes an error ack, and a bad payload or a bug
    never crashes the handler (nor takes the connection down with it)."""
    payload = args[0] if args else None
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return fail("bad_request")
    try:
        return fn(*lead, payload)
    except ExamError as e:
        return {"ok": False, "now": now_ms(), "error": e.as_error()}
    except Exception:
        log.exception("handler %s failed", fn.__name__)
        return fail("bad_request")


def handler(fn):
    """For Flask-SocketIO handlers, called as (payload, ...)."""

    @functools.wraps(fn)
    def wrapper(*args):
        return _ack(fn, (), args)

    return wrapper


def sid_handler(fn):
    """For raw python-socketio handlers, called as (sid, payload, ...)."""

    @functools.wraps(fn)
    def wrapper(sid, *args):
        return _ack(fn, (sid,), args)

    return wrapper
