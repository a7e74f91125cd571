"""Every ack has one shape: {"ok": true, "now": ms, ...} or {"ok": false, "now": ms, "error": {...}}."""
from __future__ import annotations

import functools
import logging
import time

from ..exam.errors import ExamError

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


def ok(**fields) -> dict:
    return {"ok": True, "now": now_ms(), **fields}


def fail(code: str, **extra) -> dict:
    return {"ok": False, "now": now_ms(), "error": ExamError(code, **extra).as_error()}


def handler(fn):
    """Turn ExamError into an error ack; never let a bad payload crash the handler."""

    @functools.wraps(fn)
    def wrapper(*args):
        payload = args[0] if args else None
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            return fail("bad_request")
        try:
            return fn(payload)
        except ExamError as e:
            return {"ok": False, "now": now_ms(), "error": e.as_error()}
        except Exception:  # a bug must not take the connection down with it
            log.exception("handler %s failed", fn.__name__)
            return fail("bad_request")

    return wrapper


def sid_handler(fn):
    """Like handler, for a raw python-socketio handler called as (sid, payload, ...)."""

    @functools.wraps(fn)
    def wrapper(sid, *args):
        payload = args[0] if args else None
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            return fail("bad_request")
        try:
            return fn(sid, payload)
        except ExamError as e:
            return {"ok": False, "now": now_ms(), "error": e.as_error()}
        except Exception:  # a bug must not take the connection down with it
            log.exception("handler %s failed", fn.__name__)
            return fail("bad_request")

    return wrapper
