"""The ``citybot`` command: run, migrate, the administration commands, --version."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Sequence

from bot import __version__, logs
from bot.admin import add_parsers, run_admin
from bot.config import Settings, SettingsError, load_settings, require_channels
from bot.migrate import upgrade_to_head
from storage.db import create_engine

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
    sandbox = commands.add_parser(
        "sandbox",
        help="the whole bot on this machine against local Telegram and Viber stand-ins, "
        "shown in a web page; needs no token",
    )
    sandbox.add_argument("--port", type=int, default=8080, help="the page's port (default 8080)")
    sandbox.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; anything else is reachable by others)",
    )
    sandbox.add_argument(
        "--seed", action="store_true", help="create a demo world (residents, staff, tickets…)"
    )
    add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = getattr(logging, args.log_level)
    logs.configure(level)
    if args.command == "sandbox":
        return asyncio.run(_sandbox(args))
    try:
        settings = load_settings()
        if args.command == "run":
            require_channels(settings)
    except SettingsError as error:
        print(f"citybot: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    logs.configure(level, settings.log_format, logs.secrets_of(settings))
    if args.command == "run":
        return asyncio.run(_run(settings))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_admin(settings, args))


async def _run(settings: Settings) -> int:
    # Imported here so `citybot staff …` and `--version` stay fast and need no messenger SDKs.
    from bot.app import build_runtime, serve
    from bot.startup import ConfigProblem

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with build_runtime(settings) as runtime:
            # Everything imported and built so far lives as long as the process (~350,000
            # objects: aiogram's models, SQLAlchemy): out of the collector's sight, a full
            # collection no longer walks them (BENCHMARKS.md, broadcast engine CPU: 0.24 →
            # 0.22 ms a message).
            gc.freeze()
            await serve(runtime, stop)
    except ConfigProblem as problem:
        # Expected, and the operator's to fix: one line naming the setting, no traceback.
        log.error("configuration error: %s", problem)
        return EXIT_CONFIG
    except Exception:
        # Broad on purpose: whatever it was, it is logged with its traceback (one record, one
        # JSON line in the json format) and the exit status says it failed.
        log.exception("stopped by an unexpected error")
        return 1
    log.info("stopped")
    return 0


async def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.guard import NotASandboxDatabase
    from bot.sandbox.run import SandboxOptions, run_sandbox
    from bot.startup import ConfigProblem

    if not 0 < args.port < 65536:
        print(f"citybot: --port must be 1-65535, not {args.port}", file=sys.stderr)
        return EXIT_CONFIG
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # The page refreshes often and the scheduler narrates every job: keep the console readable.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    options = SandboxOptions(port=args.port, host=args.host, seed=args.seed)
    try:
        await run_sandbox(options, stop)
    except SettingsError as error:
        print(f"citybot: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except NotASandboxDatabase as error:
        print(f"citybot: not a sandbox database: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except ConfigProblem as error:
        print(f"citybot: cannot start the sandbox: {error.reason}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"citybot: cannot start the sandbox: {error}", file=sys.stderr)
        return 1
    log.info("stopped")
    return 0


async def _admin(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return await run_admin(settings, args)
    except Exception as error:
        status = _database_failure(error)
        if status is None:
            raise
        return status


def _database_failure(error: Exception) -> int | None:
    """The exit status of a command the database failed: what the operator can fix, or wait
    for, is one line. None: anything else, raised again with its traceback."""
    from bot.startup import database_problem, database_unreachable

    problem = database_problem(error)
    if problem is not None:
        print(f"citybot: configuration error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if database_unreachable(error):
        print(f"citybot: the database is unreachable: {error}", file=sys.stderr)
        return 1
    return None


async def _migrate(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    try:
        before, after = await upgrade_to_head(engine)
    except Exception as error:
        status = _database_failure(error)
        if status is None:
            raise
        return status
    finally:
        await engine.dispose()
    if before == after:
        print(f"database is up to date (revision {after})")
    else:
        print(f"database migrated from {before or 'empty'} to {after}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
