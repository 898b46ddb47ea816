"""The `reelscope` command: run the stack, its parts, the demo, and tools for people."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from processors.config import Settings
from processors.logs import configure
from streams.tail import TOPIC_OF


def _up(settings: Settings, args: argparse.Namespace) -> None:
    from streams.supervisor import Stack

    with Stack(settings) as stack:
        print(f"reelscope is up: API {stack.api_url}/docs, broker {stack.bootstrap}", flush=True)
        stack.wait()


def _worker(settings: Settings, args: argparse.Namespace) -> None:
    from streams.worker import run_worker

    run_worker(settings)


def _api(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    # by module path: streams never imports api (the factory reads its own settings)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,
        access_log=False,
    )


def _demo(settings: Settings, args: argparse.Namespace) -> None:
    from streams.demo import run_demo

    sys.exit(run_demo(settings, keep_serving=not args.exit))


def _tail(settings: Settings, args: argparse.Namespace) -> None:
    from streams.tail import tail

    tail(settings, args.what, from_beginning=args.from_beginning)


def _sql(settings: Settings, args: argparse.Namespace) -> None:
    from streams.sql import run_sql

    sys.exit(run_sql(settings, args.query))


def _lake(settings: Settings, args: argparse.Namespace) -> None:
    if args.action == "rewind":
        _rewind_lake(settings)
        return
    from datetime import date

    from processors.lake.compact import compact

    store = settings.store.open()
    done = compact(
        store,
        tables=args.table,
        day=date.fromisoformat(args.dt) if args.dt else None,
        before=date.fromisoformat(args.before) if args.before else None,
        grace_seconds=args.grace,
    )
    for c in done:
        print(
            f"{c.table:<14} {c.day}  files {c.files_before} -> {c.files_after}  "
            f"rows {c.rows_before} -> {c.rows_after}  superseded files deleted {c.deleted}"
        )
    if not done:
        print("nothing to compact")


def _reconcile(settings: Settings, args: argparse.Namespace) -> None:
    import asyncio

    from processors.errors import ReelscopeError
    from streams.reconciler import reconcile_once

    if settings.kafka.bootstrap == "embedded" and not args.dry_run:
        sys.exit("reconcile needs the broker: set REELSCOPE_KAFKA__BOOTSTRAP=host:port")
    try:
        report = asyncio.run(
            reconcile_once(settings, older_than_s=args.older_than, dry_run=args.dry_run)
        )
    except ReelscopeError as e:  # what was re-emitted stays so; a second run does the rest
        sys.exit(f"reconcile failed: {e}")
    for line in report.lines():
        print(line)


def _keys(settings: Settings, args: argparse.Namespace) -> None:
    """Stored API keys: every API replica picks a change up within its `keys_refresh_s`."""
    from pydantic import ValidationError

    from processors.apikeys import KeyExists, create_key, revoke_key, stored_keys

    store = settings.store.open()
    if args.action == "list":
        for k in stored_keys(store):
            brands = ",".join(k.brands) or "(all)"
            print(f"{k.name:<24} {','.join(k.scopes):<32} {brands:<24} {k.created_at:%Y-%m-%d}")
        return
    if args.action == "revoke":
        if not revoke_key(store, args.name):
            sys.exit(f"no stored key named {args.name!r} (`reelscope keys list` shows them)")
        print(f"revoked {args.name}; every API refuses it within seconds")
        return
    quotas = {
        "rate_per_s": args.rate_per_s,
        "burst": args.burst,
        "concurrent_uploads": args.concurrent_uploads,
        "bytes_per_day": args.bytes_per_day,
    }
    try:
        secret, _ = create_key(store, args.name, args.scope or [], args.brand or [], **quotas)
    except (KeyExists, ValidationError) as e:
        problems = e.errors() if isinstance(e, ValidationError) else None
        why = "; ".join(str(p["msg"]) for p in problems) if problems else str(e)
        sys.exit(f"reelscope keys create: {why.removeprefix('Value error, ')}")
    print(secret)
    print("this key is shown once: store it now; the bucket keeps only its sha256", file=sys.stderr)


def _keys_arguments(cmd: argparse.ArgumentParser) -> None:
    from processors.apikeys import SCOPES

    cmd.add_argument("action", choices=["create", "list", "revoke"])
    cmd.add_argument("--name", help="the key's name (create, revoke)")
    cmd.add_argument("--scope", action="append", choices=SCOPES, help="repeatable (create)")
    cmd.add_argument(
        "--brand", action="append", help="repeatable; none: every brand, admin only (create)"
    )
    cmd.add_argument("--rate-per-s", type=float, help="requests per second (create)")
    cmd.add_argument("--burst", type=int, help="requests above the rate at once (create)")
    cmd.add_argument("--concurrent-uploads", type=int, help="uploads at once (create)")
    cmd.add_argument("--bytes-per-day", type=int, help="upload bytes per UTC day (create)")


COMMANDS = {
    "up": (_up, "broker + worker + API in one command (Ctrl-C stops all)"),
    "worker": (_worker, "one stream worker (needs REELSCOPE_KAFKA__BOOTSTRAP)"),
    "api": (_api, "the HTTP API"),
    "demo": (_demo, "generate sample media, run them through the stack, show the results"),
    "tail": (_tail, "print events of a topic as they arrive (results, checks, deadletter…)"),
    "sql": (_sql, "run SQL over the lake with the shipped views (no query: interactive)"),
    "lake": (_lake, "lake upkeep: `compact` merges small files; `rewind` rebuilds from Kafka"),
    "reconcile": (
        _reconcile,
        "re-emit accepted media that have neither a result nor a dead letter (broker data loss)",
    ),
    "keys": (_keys, "create, list and revoke API keys stored in the bucket (no redeploy)"),
}


SERVICES = frozenset({"up", "worker", "api", "demo"})  # processes that hold keys and start decoders


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reelscope", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, (_, help_) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_, description=help_)
        if name == "demo":
            cmd.add_argument("--exit", action="store_true", help="exit after showing results")
        if name == "tail":
            cmd.add_argument(
                "what",
                nargs="?",
                default="results",
                choices=list(TOPIC_OF),
            )
            cmd.add_argument("--from-beginning", action="store_true")
        if name == "lake":
            _lake_arguments(cmd)
        if name == "sql":
            cmd.add_argument("query", nargs="?", help="SQL to run; omit for a prompt")
        if name == "reconcile":
            _reconcile_arguments(cmd)
        if name == "keys":
            _keys_arguments(cmd)
    return p


def _rewind_lake(settings: Settings) -> None:
    from schemas.lake import TABLE_OF_TOPIC
    from streams.admin import rewind_group
    from streams.lake_sink import lake_group

    if settings.kafka.bootstrap == "embedded":
        sys.exit("lake rewind needs the broker: set REELSCOPE_KAFKA__BOOTSTRAP=host:port")
    security = settings.kafka.security.client_options()
    replay = rewind_group(
        settings.kafka.bootstrap, lake_group(settings), TABLE_OF_TOPIC, security=security
    )
    for topic, n in sorted(replay.items()):
        print(f"{topic:<36} {n} records to replay")
    print("start the workers: records already in the lake are skipped, nothing is written twice")


def _lake_arguments(cmd: argparse.ArgumentParser) -> None:
    from schemas.lake import TABLES

    cmd.add_argument(
        "action",
        choices=["compact", "rewind"],
        help="compact: merge small files; rewind: replay the lake topics from the earliest "
        "offset into the lake (stop the workers first)",
    )
    cmd.add_argument("--table", action="append", choices=list(TABLES), help="repeatable")
    cmd.add_argument("--dt", help="only this day partition (YYYY-MM-DD)")
    cmd.add_argument("--before", help="only day partitions before this date (YYYY-MM-DD)")
    cmd.add_argument(
        "--grace",
        type=float,
        default=600.0,
        help="seconds merged-away files stay for readers holding an older listing (default 600)",
    )


def _reconcile_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--older-than",
        type=float,
        metavar="S",
        help="only media accepted more than S seconds ago (default: the settings' older_than_s)",
    )
    cmd.add_argument("--dry-run", action="store_true", help="say what would be re-emitted")


def main(argv: Sequence[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "keys" and args.action in ("create", "revoke") and not args.name:
        p.error(f"keys {args.action} needs --name")
    if args.command in SERVICES and sys.platform == "linux":
        from processors.media.confine import hide_from_children

        hide_from_children()  # decoders run as this user: keep them out of its environment
    settings = Settings()
    configure(settings.log_level)
    handler, _ = COMMANDS[args.command]
    handler(settings, args)


if __name__ == "__main__":
    main()
