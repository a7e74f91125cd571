"""Printed forms of the exam site, each a function returning PDF bytes.

Read-only: every function takes a sqlite3.Connection or sqlite_utils.Database and never
writes to it.
"""
from .answer_cards import answer_cards
from .booklet import question_booklet
from .qr_poster import qr_poster
from .room_record import room_record
from .sign_in_sheet import sign_in_sheet
from .site_report import site_report

__all__ = ["sign_in_sheet", "room_record", "qr_poster", "answer_cards", "question_booklet", "site_report"]
