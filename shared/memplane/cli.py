"""`memplane serve | migrate | forget | export | ...`: the deployed functions' use cases, from a terminal."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from memplane import wiring
from memplane.adapters.postgres import migrations
from memplane.errors import MemplaneError
from memplane.provision import prepare_storage
from memplane.settings import Settings

log = logging.getLogger("memplane")
M = TypeVar("M", bound=BaseModel)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memplane", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve all functions on one port")
    serve.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8080)")
    serve.add_argument("--host", help="address to bind (default: 127.0.0.1; 0.0.0.0 with a token)")
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    commands.add_parser(
        "migrate", help="apply pending database migrations (and create the Qdrant collection)"
    )
    reindex = commands.add_parser("reindex", help="rebuild the Qdrant collection from Postgres")
    reindex.add_argument("--client", help="only this client's points (default: every client)")
    reindex.add_argument(
        "--resume", action="store_true", help="only send what an interrupted reindex has not sent yet"
    )
    forget_cmd = commands.add_parser("forget", help="erase one client's memory (all, or a narrower scope)")
    forget_cmd.add_argument("--client", required=True, help="the client id to forget")
    narrower = forget_cmd.add_mutually_exclusive_group(required=True)
    narrower.add_argument("--everything", action="store_true", help="all of it, with the profile")
    narrower.add_argument("--fact", help="only this fact key, with its history")
    narrower.add_argument("--chat", help="only this chat")
    narrower.add_argument("--message", action="append", help="only this message id (repeatable)")
    extractions = commands.add_parser(
        "extractions", help="how fact extraction is going for the chat model; --retry what was given up"
    )
    extractions.add_argument(
        "--retry", action="store_true", help="queue every given-up extraction again (the model works now)"
    )
    export_cmd = commands.add_parser("export", help="everything memplane holds about one client, as JSON")
    export_cmd.add_argument("--client", required=True, help="the client id to export")
    export_cmd.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    from memplane import openwebui_import  # the command line's alone: the deployed bundle leaves it out

    openwebui_import.add_arguments(
        commands.add_parser("import", help="bring users' memories and past chats in from Open WebUI")
    )
    schema_cmd = commands.add_parser(
        "schema", help="today's schema: every migration applied to an empty database, as pg_dump prints it"
    )
    schema_cmd.add_argument("--out", type=Path, help="write to this file (migrations/snapshot/schema.sql)")
    api = commands.add_parser("openapi", help="write the OpenAPI 3.1 description of the HTTP API")
    api.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    bundle = commands.add_parser("bundle", help="generate the DigitalOcean Functions project")
    bundle.add_argument("--out", type=Path, default=Path("build/do"), help="default: build/do")
    bundle.add_argument(
        "--env-file",
        type=Path,
        help="settings for the deploy; written to OUT/.env, where doctl reads ${VAR}s",
    )
    bundle.add_argument(
        "--check",
        action="store_true",
        help="fail on settings the deployer cannot resolve, and on a function over 45 MB zipped",
    )
    bundle.add_argument(
        "--log-destination",
        action="append",
        default=[],
        choices=["papertrail", "logtail", "datadog"],
        help="forward the functions' logs there (repeatable); its token comes from the env file",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Chatty libraries: HTTP clients and the dev server log every request (memplane.access does too).
    for name in ("httpx", "httpx2", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = wiring.settings_with_secrets()
        if args.command == "migrate":
            return migrate(settings)
        if args.command == "reindex":
            return run_reindex(settings, client_id=args.client, resume=args.resume)
        if args.command == "forget":
            return run_forget(settings, args)
        if args.command == "export":
            return run_export(settings, args)
        if args.command == "import":
            return openwebui_import.run(settings, args)
        if args.command == "schema":
            return run_schema(settings, args.out)
        if args.command == "extractions":
            return run_extractions(settings, retry=args.retry)
        if args.command == "bundle":
            return run_bundle(args)
        if args.command == "openapi":
            return run_openapi(args)
        return run_server(settings, port=args.port, host=args.host, migrate_first=args.migrate)
    except MemplaneError as exc:
        print(f"memplane: {exc.code}: {exc.message}", file=sys.stderr)
        return 2


def migrate(settings: Settings) -> int:
    for line in prepare_storage(settings):
        print(line)
    return 0


def run_reindex(settings: Settings, *, client_id: str | None, resume: bool) -> int:
    """Send every chunk's vector from Postgres to Qdrant, then delete points Postgres does not hold.

    Resumable: chunks leave the queue as they are sent, so ``--resume`` continues where a stopped run was.
    """
    from memplane.progress import ProgressBar
    from memplane.usecases.indexing import sweep, sync

    c = wiring.build(settings)
    try:
        if not c.index.separate:
            print("MEMPLANE_VECTOR_BACKEND is pgvector: vectors are searched in Postgres, nothing to rebuild")
            return 0
        print(f"vector index: {c.index.ensure(settings.embedding_dim)}")
        with c.store.session() as s:
            if not resume:
                s.mark_unindexed(client_id)
            total = s.count_unindexed(client_id)
        bar, done = ProgressBar(), [0]

        def advance(n: int) -> None:
            done[0] += n
            bar("indexed", min(done[0], total), total)

        bar("indexed", 0, total)
        counts = sync(
            c.store, c.index, c.policy, client_id=client_id, budget_s=float("inf"), progress=advance
        )
        if done[0] < total:
            bar("indexed", total, total)
        removed = sweep(c.store, c.index, client_id, c.policy.index_wait_s)
        print(f"reindex: {counts.upserted} points written, {counts.deleted + removed} stale points deleted")
        return 0
    finally:
        c.close()


def run_forget(settings: Settings, args: argparse.Namespace) -> int:
    """What POST /cleanup {"forget": ...} does, for an operator honouring an erasure request."""
    from memplane.contracts import ForgetIn
    from memplane.usecases.forget import forget

    scope = {"fact_key": args.fact, "chat_id": args.chat, "message_ids": args.message}
    given = {k: v for k, v in scope.items() if v is not None} or {"everything": True}
    request = _valid(ForgetIn, {"client_id": args.client, **given})
    c = wiring.build(settings)
    try:
        reply = forget(
            request,
            store=c.store,
            index=c.index,
            extractor=c.extractor,
            extractions=c.extractions,
            policy=c.policy,
        )
    finally:
        c.close()
    print(reply.model_dump_json(indent=2))
    return 0


def run_schema(settings: Settings, out: Path | None) -> int:
    """The schema snapshot, from a throwaway database on the configured (or embedded) server."""
    from memplane.adapters.postgres import schema

    text = schema.snapshot(
        wiring.database_url(settings), settings.migrations_dir or migrations.default_migrations_dir()
    )
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        print(f"wrote {out} ({len(text.splitlines())} lines)", file=sys.stderr)
    return 0


def run_extractions(settings: Settings, *, retry: bool) -> int:
    """The extraction log for the configured chat model, and the owed backlog; --retry requeues."""
    c = wiring.build(settings)
    try:
        requeued = c.extractions.requeue() if retry else None
        found = c.extractions.health(c.extractor.name)
        backlog = c.extractions.backlog()
    finally:
        c.close()
    report: dict[str, Any] = {
        "model": c.extractor.name,
        "failing_since": found.failing_since.isoformat() if found and found.failing_since else None,
        "failures": found.failures if found else 0,
        "last_kind": found.last_kind if found else None,
        "last_error": found.last_error if found else None,
        "last_excerpt": found.last_excerpt if found else None,
        "refusals": found.refusals if found else 0,
        "waiting": backlog.waiting,
        "given_up": backlog.given_up,
    }
    if requeued is not None:
        report["requeued"] = requeued
    print(json.dumps(report, indent=2))
    return 0


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    """Every page of POST /cleanup {"export": ...}, joined into one JSON document (an access request)."""
    import json

    from memplane.contracts import ExportIn
    from memplane.fields import CURSOR_SECTIONS as SECTIONS
    from memplane.usecases.export import export

    c = wiring.build(settings)
    whole: dict[str, Any] = {"client_id": args.client, "profile": None, **{name: [] for name in SECTIONS}}
    cursor: str | None = None
    try:
        while True:
            page = export(_valid(ExportIn, {"client_id": args.client, "cursor": cursor}), store=c.store)
            data = page.model_dump(mode="json")
            whole["profile"] = whole["profile"] or data["profile"]
            for name in SECTIONS:
                whole[name] += data[name]
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        c.close()
    text = json.dumps(whole, indent=2, ensure_ascii=False)
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"export of {args.client} written to {args.out}", file=sys.stderr)
    return 0


def _valid(model: type[M], values: dict[str, Any]) -> M:
    from pydantic import ValidationError

    from memplane.errors import InvalidRequest

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidRequest("; ".join(e["msg"] for e in exc.errors(include_url=False))) from exc


def run_openapi(args: argparse.Namespace) -> int:
    import json

    from memplane.platform.openapi import spec

    text = json.dumps(spec(), indent=2, sort_keys=True) + "\n"
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text)
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from memplane import bundle

    # The deploy's own shell is what doctl reads first: the bundle checks against it, not memplane's settings.
    shell = dict(os.environ)
    missing = bundle.build(
        args.out, shell=shell, env_file=args.env_file, log_destinations=tuple(args.log_destination)
    )
    print(f"bundle written to {args.out}; deploy with: {bundle.DEPLOY_COMMAND.format(out=args.out)}")
    level = "error" if args.check else "warning"
    if missing:
        # doctl stops on an unset or empty ${VAR}: "The following substitutions could not be resolved".
        print(
            f"{level}: the deploy would stop on these unset or empty settings; give them values in "
            f"{args.env_file or 'the environment file'}: {', '.join(missing)}",
            file=sys.stderr,
        )
    misread = bundle.problems(args.env_file) if args.env_file is not None else []
    for problem in misread:
        print(f"{level}: {args.env_file}: {problem}", file=sys.stderr)
    skipped = bundle.skipped_by_deployer(args.out)
    if skipped:
        print(
            f"{level}: the deployer would leave these files out: {', '.join(skipped[:10])}", file=sys.stderr
        )
    if not args.check:
        return 0
    if missing or misread or skipped:
        return 1  # the deploy would not start, or would run something else than was checked
    failed = False
    for size in bundle.measure(args.out):
        over = size.zipped_mb > bundle.LIMIT_MB
        failed |= over
        print(
            f"{size.function:<10} {size.zipped_mb:>5.1f} MB zipped"
            f"{f'  OVER the {bundle.LIMIT_MB:.0f} MB budget' if over else ''}"
        )
    return 1 if failed else 0


def run_server(settings: Settings, *, port: int | None, host: str | None, migrate_first: bool) -> int:
    from werkzeug.serving import make_server

    from memplane.platform.functions_framework import create_app

    port = port or settings.port
    host = _bind_address(settings, host)
    if migrate_first:
        migrate(settings)
    container = wiring.build(settings)
    server = make_server(host, port, create_app(lambda: container), threaded=True)
    _print_banner(settings, host, port)
    # Ctrl-C and `kill` both stop cleanly, even when started in the background (where SIGINT may be
    # ignored): unwinding serve_forever lets the embedded Postgres stop at exit.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    try:
        server.serve_forever()  # werkzeug returns from here on KeyboardInterrupt
    finally:
        print("\nmemplane: stopping", flush=True)
        server.server_close()
        container.close()  # the embedded Postgres, if any, stops when this process exits
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _bind_address(settings: Settings, host: str | None) -> str:
    if settings.protected:
        return host or "0.0.0.0"  # noqa: S104 - protected by the bearer token
    if host is not None and settings.allow_unauthenticated:
        log.warning(
            "MEMPLANE_ALLOW_UNAUTHENTICATED is set: anyone who reaches %s can read and erase memory", host
        )
        return host
    if host is not None and not ipaddress.ip_address(host).is_loopback:
        log.warning("MEMPLANE_API_TOKEN is not set: refusing to listen on %s, using 127.0.0.1", host)
    else:
        log.warning("MEMPLANE_API_TOKEN is not set: serving without auth, on loopback only")
    return "127.0.0.1"


def _print_banner(settings: Settings, host: str, port: int) -> None:
    base = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"  # noqa: S104
    auth = ' -H "Authorization: Bearer $MEMPLANE_API_TOKEN"' if settings.api_token else ""
    json_header = " -H 'Content-Type: application/json'"
    write = (
        '{"client_id": "alice", "chat_id": "c1", "message_id": "m2", "conversation": '
        '[{"role": "user", "id": "m1", "content": "My name is Alice and I live in Lisbon."}], '
        '"response": "Nice to meet you, Alice!", "profile": {"full_name": "Alice"}}'
    )
    ask = '{"client_id": "alice", "query": "Where do I live?"}'
    if settings.vector_backend == "qdrant":
        where = settings.qdrant_url or f"local mode in {settings.data_dir / 'qdrant'}"
        index = f"Qdrant ({where}), pgvector when it cannot answer"
    else:
        index = "pgvector"
    print(
        f"\nmemplane is serving on {base} (vectors: {index})\n"
        f"  POST {base}/assemble\n  POST {base}/writeback\n  POST {base}/cleanup\n"
        f"  GET  {base}/health\n\nTry it:\n"
        f"  curl -s {base}/writeback{json_header}{auth} -d '{write}'\n"
        f"  curl -s {base}/assemble{json_header}{auth} -d '{ask}'\n\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
