"""`memplane import openwebui`: bring a running Open WebUI's history into memplane (the command's edge:
arguments, the report; the work is usecases/importing.py over adapters/openwebui.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from typing import cast

from memplane import wiring
from memplane.errors import ConfigurationError
from memplane.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=["openwebui"], help="where the history is")
    parser.add_argument("--url", help="Open WebUI's address, as its users open it (or $OPENWEBUI_URL)")
    parser.add_argument(
        "--user", action="append", default=[], help="only this user, by id or email (repeatable)"
    )
    parser.add_argument("--since", type=_day, help="only what was said on or after this day (YYYY-MM-DD)")
    parser.add_argument("--until", type=_day, help="only what was said before this day (YYYY-MM-DD)")
    parser.add_argument("--chats", action="store_true", help="also import past chats, message by message")
    parser.add_argument(
        "--no-memories", action="store_true", help="leave out the memories users saved in Open WebUI"
    )
    parser.add_argument(
        "--openwebui-db",
        help="Open WebUI's own database (a webui.db path or a postgresql:// URL), to read saved memories "
        "when its file cannot be downloaded (Open WebUI on PostgreSQL)",
    )
    parser.add_argument(
        "--filter-id",
        default="memplane_memory",
        help="the memplane filter's id in Open WebUI, whose valves say which models' chats feed memory",
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be imported; write nothing")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from memplane.adapters.openwebui import OpenWebUI
    from memplane.contracts import WritebackRequest, WritebackResponse
    from memplane.deadline import NONE
    from memplane.platform.routes import FUNCTIONS
    from memplane.progress import ProgressBar
    from memplane.usecases.importing import ImportChoice, import_openwebui

    url = args.url or settings.openwebui_url
    key = settings.openwebui_api_key.get_secret_value() if settings.openwebui_api_key else ""
    if not url or not key:
        raise ConfigurationError(
            "name the Open WebUI to import from: --url (or OPENWEBUI_URL) and an admin's API key in "
            "OPENWEBUI_API_KEY (Open WebUI: Settings > Account > API keys)"
        )
    choice = ImportChoice(
        users=frozenset(args.user),
        since=args.since,
        until=args.until,
        chats=args.chats,
        memories=not args.no_memories,
        dry_run=args.dry_run,
        memory_database=args.openwebui_db,
        filter_id=args.filter_id,
    )
    source = OpenWebUI(url, key)
    c = wiring.build(settings)

    def write(request: WritebackRequest) -> WritebackResponse:
        # The same writeback as a live turn's, with no platform deadline: an import takes its time.
        return cast(WritebackResponse, FUNCTIONS["writeback"].run(request, c, datetime.now(UTC), NONE))

    try:
        report = import_openwebui(source, choice, write, ProgressBar())
    finally:
        source.close()
        c.close()
    verb = "would import" if args.dry_run else "imported"
    print(f"Open WebUI {report.version} at {url}: {verb}")
    print(
        f"{'user':<38} {'memories':>8} {'chats':>6} {'turns':>6} {'stored':>7} {'facts':>6} {'others':>6} "
        f"{'not fed':>7}"
    )
    for user_id, n in report.users.items():
        print(
            f"{user_id:<38} {n.memories:>8} {n.chats:>6} {n.exchanges:>6} {n.messages_stored:>7} "
            f"{n.facts:>6} {n.not_theirs:>6} {n.not_fed:>7}"
        )
    if not report.users:
        print("(no user matched)", file=sys.stderr)
    print(
        "stored: messages written now (0 for what an earlier run already imported); others: messages "
        "by another user in a shared chat, never imported as the owner's; not fed: answers of models "
        "whose chats the memplane filter does not save (its valves in Open WebUI)"
    )
    return 0


def _day(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD") from exc
