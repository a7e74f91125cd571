"""Camera proctoring on the exam service: the mirror of captures and identity checks, the
rules of an upload, the prompts' schedule and the missed-prompt sweep.

Mixed into ExamService (like RoomActions). The mirror rule holds here too: `captures` and
`id_checks` change only in `apply_proctor`, from rows a committed transaction returned.
"""
from __future__ import annotations

import collections
import heapq
import re
from pathlib import Path
from typing import Any

from ..exam.errors import ExamError
from . import ops as pops
from . import photos, schedule

CAPTURE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SOURCES = ("file", "camera")
REFUSAL_REASONS = {"denied": "拒绝使用摄像头", "no_camera": "无法使用摄像头", "cancelled": "取消拍照",
                   "dark": "画面全黑（摄像头被遮挡）"}
FAILED = ("missed", "refused")
ID_STAGES = ("entry", "during")
ID_METHODS = {"id_card": "身份证", "other": "其他证件", "photo_waived": "免登录拍照"}


def _ms(t):
    return None if t is None else int(t * 1000)


class ProctorActions:
    """Uses the exam service's cfg, clock, writer, attempts, sittings and hooks."""

    cfg: Any
    attempts: dict
    candidates: dict
    sittings: dict

    # -- loading ------------------------------------------------------------------
    def load_proctor(self, conn, data_dir: Path) -> None:
        self.pcfg = self.cfg["proctor"]
        self.photo_root = Path(data_dir) / self.pcfg["photo_dir"]
        self.captures: dict[str, dict] = {}                   # capture_id -> row
        self.captures_by_ticket: dict[str, list[dict]] = {}
        self.id_checks: dict[str, list[dict]] = {}
        self.roster_photos: dict[str, str] = {}               # ticket -> sha256 of its 证件照
        self._moments: dict[str, list[float]] = {}
        self._prompt_events: list = []                        # heap of (t, ticket, slot, kind)
        self.face_queue: collections.deque = collections.deque()  # capture ids to analyse
        self.on_face_work = lambda: None
        for table in ("captures", "id_checks", "roster_photos"):
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is None:
                return  # an older database opened read-only: the schema comes with the writer
        for r in conn.execute("SELECT * FROM captures ORDER BY received_at, capture_id"):
            self._mirror_capture(dict(r))
        for r in conn.execute("SELECT * FROM id_checks ORDER BY id"):
            self.id_checks.setdefault(r["ticket"], []).append(dict(r))
        self.roster_photos = {r[0]: r[1] for r in conn.execute("SELECT ticket, sha256 FROM roster_photos")}
        for ticket, sha in self.roster_photos.items():  # the face worker and the console read files
            if not photos.path_for(self.photo_root, sha).exists():
                data = conn.execute("SELECT data FROM roster_photos WHERE ticket = ?", (ticket,)).fetchone()[0]
                photos.store(self.photo_root, bytes(data), sha)
        for ticket, a in self.attempts.items():
            self._schedule(ticket, a)
        self.face_queue.extend(c["capture_id"] for c in self.captures.values()
                               if c["status"] == "ok" and c["analyzed_at"] is None and c["purged_at"] is None)

    # -- the schedule -----------------------------------------------------------------
    def capture_moments(self, ticket: str) -> list[float]:
        return self._moments.get(ticket, [])

    def _schedule(self, ticket: str, a: dict) -> None:
        """Once an attempt has an opening time, its prompts are known: queue their moments
        (prompt shown) and their ends (grace over: 抓拍失败 if still nothing)."""
        if not self.pcfg["enabled"] or ticket in self._moments or not a.get("opened_at") or a.get("mode") == "paper":
            return
        s = self.sittings[a["sitting_id"]]
        times = schedule.moments(self.receipt_key, ticket, a["opened_at"], s["duration_s"],
                                 self.pcfg["random_captures"], self.pcfg["first_after_minutes"] * 60,
                                 self.pcfg["last_before_end_minutes"] * 60)
        self._moments[ticket] = times
        grace = self.pcfg["prompt_grace_seconds"]
        for slot, t in enumerate(times, start=1):
            heapq.heappush(self._prompt_events, (t, ticket, slot, "due"))
            heapq.heappush(self._prompt_events, (t + grace, ticket, slot, "miss"))

    def _slots_done(self, ticket: str) -> set[int]:
        return {c["slot"] for c in self.captures_by_ticket.get(ticket, ())}

    def _sealed_at(self, ticket: str) -> float | None:
        a = self.attempts.get(ticket) or {}
        return a.get("submitted_at") if a.get("status") in ("submitted", "terminated") else None

    def camera_state(self, ticket: str) -> dict | None:
        """What the phone must do about the camera (in the state object)."""
        if not self.pcfg["enabled"]:
            return None
        a = self.attempts.get(ticket) or {}
        prompt = None
        if a.get("status") == "answering":
            due = schedule.due_slot(self.capture_moments(ticket), self._slots_done(ticket), self.clock(),
                                    self.pcfg["prompt_grace_seconds"])
            if due is not None:
                prompt = {"slot": due[0], "since": _ms(due[1]),
                          "until": _ms(due[1] + self.pcfg["prompt_grace_seconds"])}
        return {"login": self.login_photo(ticket), "prompt": prompt,
                "max_side": self.pcfg["max_side_px"], "target_bytes": self.pcfg["target_bytes"]}

    def login_photo(self, ticket: str) -> str:
        """ok (a login photo is stored), waived (an invigilator waived it), needed, or
        not_required."""
        if any(c["slot"] == schedule.LOGIN_SLOT and c["status"] == "ok" for c in self.captures_by_ticket.get(ticket, ())):
            return "ok"
        if any(k["method"] == "photo_waived" for k in self.id_checks.get(ticket, ())):
            return "waived"
        return "needed" if self.pcfg["enabled"] and self.pcfg["login_capture_required"] else "not_required"

    def needs_login_photo(self) -> bool:
        return bool(self.pcfg["enabled"] and self.pcfg["login_capture_required"])

    # -- uploads ------------------------------------------------------------------------
    def parse_capture(self, capture_id, slot, source, taken_at_ms) -> tuple[str, int, str, float | None]:
        if not isinstance(capture_id, str) or not CAPTURE_ID.match(capture_id):
            raise ExamError("bad_request", "拍照编号不正确")
        try:
            slot = int(slot)
        except (TypeError, ValueError):
            raise ExamError("bad_request", "拍照序号不正确") from None
        if not 0 <= slot <= self.pcfg["random_captures"]:
            raise ExamError("bad_request", "拍照序号不正确")
        if source not in SOURCES:
            raise ExamError("bad_request", "拍照方式不正确")
        taken = None
        if taken_at_ms not in (None, ""):
            try:
                taken = float(taken_at_ms) / 1000
            except (TypeError, ValueError):
                raise ExamError("bad_request") from None
            if not 0 < taken < 1e11:
                raise ExamError("bad_request")
        return capture_id, slot, source, taken

    def capture_upload(self, ticket: str, capture_id, slot, source, taken_at_ms, data: bytes) -> tuple[dict, str]:
        """Store a photo: the file (fsynced, off the loop), then its row through the writer.
        Returns (the stored row, "stored" | "already_stored"), built from what committed."""
        from ..blocking import run_blocking

        if not self.pcfg["enabled"]:
            raise ExamError("camera_off")
        capture_id, slot, source, taken = self.parse_capture(capture_id, slot, source, taken_at_ms)
        old = self.captures.get(capture_id)
        if old is not None and old["ticket"] != ticket:
            raise ExamError("capture_conflict")  # another candidate's id: refused, nothing said about it
        a = self.attempts.get(ticket)
        if a is None or a["status"] == "absent":
            raise ExamError("not_logged_in")
        try:
            photo = run_blocking(self._check_and_store, data)
        except photos.PhotoError as e:
            raise ExamError("bad_photo", e.message, reason=e.code) from None
        except OSError:
            raise ExamError("storage") from None
        ch = self._write(pops.store_capture, ticket, capture_id, slot, source, photo.sha256, photo.size,
                         photo.width, photo.height, taken, self.clock(), self.pcfg["max_captures_per_candidate"],
                         apply=self.apply)
        return ch.captures[0], ch.result

    def _check_and_store(self, data: bytes) -> photos.Photo:
        photo = photos.check_jpeg(data, self.pcfg["max_upload_bytes"], self.pcfg["max_side_px"])
        photos.store(self.photo_root, data, photo.sha256)
        return photo

    def capture_failed(self, ticket: str, slot, reason) -> dict:
        """The phone says it cannot take the prompt's photo: recorded 抓拍失败 now."""
        if type(slot) is not int or not 0 <= slot <= self.pcfg["random_captures"]:
            raise ExamError("bad_request")
        if reason not in REFUSAL_REASONS:
            raise ExamError("bad_request")
        now = self.clock()
        ch = self._commit(pops.record_failure, ticket, slot, "refused", reason, now, now, f"candidate:{ticket}")
        return ch.captures[0]

    def sweep_captures(self) -> int:
        """Prompts whose moment came: tell the phone (its state carries the prompt). Prompts
        whose grace ran out with nothing: 抓拍失败, in one transaction."""
        if not self.pcfg["enabled"]:
            return 0
        now = self.clock()
        events, missed = self._prompt_events, []
        while events and events[0][0] <= now:
            t, ticket, slot, kind = heapq.heappop(events)
            a = self.attempts.get(ticket) or {}
            if kind == "due":
                if a.get("status") == "answering":
                    self.on_attempt(ticket)
                continue
            sealed = self._sealed_at(ticket)
            prompt_at = self.capture_moments(ticket)[slot - 1]
            if slot in self._slots_done(ticket) or (sealed is not None and prompt_at >= sealed):
                continue
            if a.get("status") in ("answering", "submitted", "terminated"):
                missed.append((ticket, slot, prompt_at))
        if missed:
            self._write(pops.record_missed, missed, now, apply=self.apply)
        return len(missed)

    # -- staff ------------------------------------------------------------------------
    def id_check(self, ticket, sitting_id: str, stage, method, document, approver, staff: str) -> dict:
        from ..exam.room_service import _text

        if stage not in ID_STAGES or method not in ID_METHODS:
            raise ExamError("bad_request", "核验类别不正确")
        document = _text(document, "证件名称", required=(method == "other")) if document is not None else ""
        approver = _text(approver, "批准人姓名", required=(method != "id_card")) if approver is not None else ""
        if method == "other" and not (document and approver):
            raise ExamError("bad_request", "使用其他证件须填写证件名称和批准人（考务负责人）姓名")
        if method == "photo_waived" and not approver:
            raise ExamError("bad_request", "免登录拍照须填写批准人姓名")
        ch = self._commit(pops.id_check, ticket, sitting_id, stage, method, document, approver, self.clock(), staff)
        return ch.id_checks[0]

    def audit_photo_view(self, staff: str, ticket: str, what: str) -> None:
        c = self.candidates[ticket]
        self._write(pops.audit_view, staff, c["sitting_id"], ticket, what, self.clock())

    # -- the mirror ---------------------------------------------------------------------
    def apply_proctor(self, captures: list[dict], id_checks: list[dict]) -> set[str]:
        touched = set()
        for row in captures:
            new = row["capture_id"] not in self.captures
            self._mirror_capture(row)
            touched.add(row["ticket"])
            if new and row["status"] == "ok" and row["analyzed_at"] is None:
                self.face_queue.append(row["capture_id"])
                self.on_face_work()
        for row in id_checks:
            self.id_checks.setdefault(row["ticket"], []).append(row)
            touched.add(row["ticket"])
        return touched

    def _mirror_capture(self, row: dict) -> None:
        old = self.captures.get(row["capture_id"])
        self.captures[row["capture_id"]] = row
        lst = self.captures_by_ticket.setdefault(row["ticket"], [])
        if old is None:
            lst.append(row)
        else:
            lst[lst.index(old)] = row

    # -- views --------------------------------------------------------------------------
    def capture_flags(self, c: dict) -> list[str]:
        if c["status"] in FAILED:
            return ["拍照失败"]
        flags = []
        if c["faces"] == 0:
            flags.append("无人脸")
        elif c["faces"] is not None and c["faces"] >= 2:
            flags.append("多人")
        if c["similarity"] is not None and c["similarity"] < self.pcfg["similarity_threshold"]:
            flags.append("相似度低")
        return flags

    def capture_view(self, c: dict) -> dict:
        return {"id": c["capture_id"], "slot": c["slot"], "status": c["status"], "source": c["source"],
                "received_at": _ms(c["received_at"]), "taken_at": _ms(c["taken_at"]),
                "prompt_at": _ms(c["taken_at"]) if c["status"] in FAILED else None, "reason": c["reason"],
                "faces": c["faces"], "similarity": c["similarity"], "reference": c["reference"],
                "analyzed": c["analyzed_at"] is not None, "purged": c["purged_at"] is not None,
                "flags": self.capture_flags(c)}

    def camera_summary(self, ticket: str) -> dict:
        caps = self.captures_by_ticket.get(ticket, ())
        sims = [c["similarity"] for c in caps if c["similarity"] is not None]
        flags: list[str] = []
        for c in caps:
            for f in self.capture_flags(c):
                if f not in flags:
                    flags.append(f)
        checks = self.id_checks.get(ticket, ())
        return {"photos": sum(1 for c in caps if c["status"] == "ok"),
                "failed": sum(1 for c in caps if c["status"] in FAILED),
                "min_similarity": min(sims) if sims else None, "flags": flags,
                "roster_photo": ticket in self.roster_photos, "login": self.login_photo(ticket),
                "id_entry": next((self.id_check_view(k) for k in reversed(checks) if k["stage"] == "entry"), None),
                "id_during": next((self.id_check_view(k) for k in reversed(checks) if k["stage"] == "during"), None)}

    @staticmethod
    def id_check_view(k: dict) -> dict:
        return {"method": k["method"], "document": k["document"], "approver": k["approver"], "ts": _ms(k["ts"]),
                "staff": k["staff"]}

    def face_reference(self, ticket: str, capture_id: str) -> tuple[str | None, str | None]:
        """What a capture is compared with: the roster photo (证件照) if the roster has one,
        else the candidate's first login photo. (kind, sha256) or (None, None)."""
        if ticket in self.roster_photos:
            return "roster", self.roster_photos[ticket]
        for c in self.captures_by_ticket.get(ticket, ()):
            if c["slot"] == schedule.LOGIN_SLOT and c["status"] == "ok":
                return ("login", c["sha256"]) if c["capture_id"] != capture_id else (None, None)
        return None, None
