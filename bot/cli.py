"""The ``citybot`` command: run, migrate, staff, --version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot import __version__
from bot.config import Settings, SettingsError, load_settings, require_channels
from bot.migrate import upgrade_to_head
from storage import audit
from storage.db import create_engine, create_sessionmaker
from storage.staff import list_staff, remove_staff, upsert_staff
from storage.vocabulary import Role, system_clock

EXIT_CONFIG = 2
log = logging.getLogger("citybot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citybot", description="Telegram and Viber bot of the city council."
    )
    parser.add_argument("--version", action="version", version=f"citybot {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="migrate if needed, then serve every configured channel")
    commands.add_parser("migrate", help="upgrade the database schema to the newest version")
    staff = commands.add_parser("staff", help="manage staff (Telegram user ids and roles)")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    add = staff_commands.add_parser("add", help="add a staff member or change their role")
    add.add_argument("telegram_id", type=int)
    add.add_argument("role", choices=[role.value for role in Role])
    add.add_argument("--name", default=None)
    staff_commands.add_parser("list", help="list staff")
    remove = staff_commands.add_parser("remove", help="remove a staff member")
    remove.add_argument("telegram_id", type=int)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every connection at INFO; our own line says what was migrated.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        if args.command == "run":
            require_channels(settings)
    except SettingsError as error:
        print(f"citybot: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "run":
        return asyncio.run(_run(settings))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_staff(settings, args))


async def _run(settings: Settings) -> int:
    # Imported here so `citybot staff …` and `--version` stay fast and need no messenger SDKs.
    from bot.app import build_runtime, serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build_runtime(settings) as runtime:
        await serve(runtime, stop)
    log.info("stopped")
    return 0


async def _migrate(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    try:
        before, after = await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    if before == after:
        print(f"database is up to date (revision {after})")
    else:
        print(f"database migrated from {before or 'empty'} to {after}")
    return 0


async def _staff(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        now = system_clock()
        async with sessionmaker() as session, session.begin():
            if args.staff_command == "list":
                members = await list_staff(session)
                if not members:
                    print("no staff yet: citybot staff add TELEGRAM_ID admin|editor|operator")
                for member in members:
                    print(f"{member.telegram_id}\t{member.role}\t{member.name or ''}")
                return 0
            if args.staff_command == "add":
                role = Role(args.role)
                _, created = await upsert_staff(
                    session, telegram_id=args.telegram_id, role=role, now=now, name=args.name
                )
                audit.record(
                    session,
                    actor="cli",
                    action="staff.added" if created else "staff.role_changed",
                    subject=f"staff:{args.telegram_id}",
                    details={"role": role.value},
                    now=now,
                )
                print(f"{'added' if created else 'updated'} {args.telegram_id} as {role.value}")
                return 0
            removed = await remove_staff(session, telegram_id=args.telegram_id)
            if not removed:
                print(f"{args.telegram_id} is not staff", file=sys.stderr)
                return 1
            audit.record(
                session,
                actor="cli",
                action="staff.removed",
                subject=f"staff:{args.telegram_id}",
                now=now,
            )
            print(f"removed {args.telegram_id}")
            return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
