"""`hall print DOC --sitting ID --out FILE.pdf`: the forms from the command line (docs/printing.md).

    hall print room-record --sitting D1S1-R01 --out r.pdf          # the configured database
    hall print site-report --db var/hall.db --out report.pdf      # or a given one
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts.fonts import FontMissing

from .data import NotFound

DOCS = ("sign-in", "room-record", "poster", "answer-cards", "site-report")


def add_print_arguments(pr: argparse.ArgumentParser) -> None:
    """The arguments of `hall print` (the database comes from hall's --db / --data-dir / --config)."""
    pr.add_argument("doc", choices=DOCS)
    pr.add_argument("--sitting", help="sitting_id (all documents except site-report)")
    pr.add_argument("--out", required=True, type=Path, help="PDF file to write")
    pr.add_argument("--all-units", action="store_true",
                    help="sign-in: one list for the room instead of one section per unit")
    pr.add_argument("--url", help="poster: the room's QR login URL")
    pr.add_argument("--wifi-ssid", help="poster: room WiFi name")
    pr.add_argument("--wifi-password", default="", help="poster: room WiFi password")
    pr.add_argument("--tickets", help="answer-cards: comma-separated tickets (default: whole sitting)")


def render(args: argparse.Namespace, db) -> bytes:
    from . import answer_cards, qr_poster, room_record, sign_in_sheet, site_report
    if args.doc == "site-report":
        return site_report(db)
    if not args.sitting:
        raise UsageError(f"{args.doc} needs --sitting")
    if args.doc == "sign-in":
        return sign_in_sheet(db, args.sitting, by_unit=not args.all_units)
    if args.doc == "room-record":
        return room_record(db, args.sitting)
    if args.doc == "poster":
        if not args.url or not args.wifi_ssid:
            raise UsageError("poster needs --url and --wifi-ssid")
        return qr_poster(db, args.sitting, args.url, args.wifi_ssid, args.wifi_password)
    tickets = [t.strip() for t in args.tickets.split(",") if t.strip()] if args.tickets else None
    return answer_cards(db, args.sitting, tickets)


class UsageError(Exception):
    pass


def run_print(args: argparse.Namespace, db_path: Path) -> int:
    """Render args.doc from the database at db_path into args.out: 0 ok, 2 usage/data error."""
    from hall_server.db.schema import connect
    if not db_path.is_file():
        print(f"error: no database at {db_path}", file=sys.stderr)
        return 2
    conn = connect(db_path, readonly=True)  # printing never writes
    try:
        from hall_server import zone

        from .data import reading, using_zone

        with reading(conn) as r:
            meta = {"timezone": r.meta("timezone")}
        with using_zone(zone.get(zone.name_for(meta))):      # the exam's zone, not the laptop's
            pdf = render(args, conn)
    except (UsageError, NotFound, LookupError, FontMissing) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_bytes(pdf)
    tmp.replace(args.out)  # never leave a half-written PDF for the printer queue
    print(f"{args.out} ({len(pdf) // 1024} KB)")
    return 0
