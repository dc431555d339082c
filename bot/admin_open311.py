"""``citybot open311 key``: the api_keys of the systems that post requests through Open311
GeoReport v2 (the contact centre 1520, an executor's system).

``add NAME`` prints the key once (only its SHA-256 is stored); ``list`` shows ids, names and
when each key was made, last used or revoked, never a key; ``revoke ID`` refuses the key from
then on. Each change is in the audit log (actor ``cli``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage import audit
from storage.open311_keys import NAME_MAX, add_key, list_keys, revoke_key
from storage.vocabulary import system_clock


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    open311 = commands.add_parser("open311", help="Open311 GeoReport v2: integrators' api_keys")
    areas = open311.add_subparsers(dest="area", required=True, metavar="AREA")
    key = areas.add_parser("key", help="api_keys of the systems that post requests")
    actions = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="a new key (printed once; only its hash is kept)")
    add.add_argument("name", help="who uses it, e.g. 'contact-centre-1520'")
    actions.add_parser("list", help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id", type=int, metavar="ID")


async def run(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    del settings
    now = system_clock()
    if args.action == "add":
        name = args.name.strip()
        if not name or len(name) > NAME_MAX:
            print(f"refused: a name of 1-{NAME_MAX} characters", file=sys.stderr)
            return 1
        key, plain = await add_key(session, name=name, now=now)
        audit.record(
            session,
            actor="cli",
            action="open311.key_added",
            subject=f"open311_key:{key.id}",
            details={"name": key.name},
            now=now,
        )
        print(f"key {key.id} for {key.name} (shown once, keep it secret):")
        print(plain)
        return 0
    if args.action == "revoke":
        revoked = await revoke_key(session, key_id=args.key_id, now=now)
        if revoked is None:
            print(f"no key {args.key_id}: citybot open311 key list", file=sys.stderr)
            return 1
        audit.record(
            session,
            actor="cli",
            action="open311.key_revoked",
            subject=f"open311_key:{revoked.id}",
            now=now,
        )
        print(f"key {revoked.id} ({revoked.name}): revoked")
        return 0
    keys = await list_keys(session)
    if not keys:
        print("no keys yet: citybot open311 key add NAME")
    for key in keys:
        state = f"revoked {_when(key.revoked_at)}" if key.revoked_at else "active"
        used = _when(key.last_used_at) if key.last_used_at else "never used"
        print(f"{key.id}\t{key.name}\t{state}\tcreated {_when(key.created_at)}\t{used}")
    return 0


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
