"""``citybot staff``: accounts of the people who work the desks.

``add LOGIN ROLE`` prints a one-time invitation link (the first visit sets a password); a LOGIN of
digits alone is read as a Telegram id, the form staff were added with before the web desk.
Accounts are disabled, never deleted: tickets and the audit log keep naming them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage import audit
from storage.models import Staff, StaffSession
from storage.staff import (
    AccountError,
    add_account,
    get_by_login,
    list_staff,
    set_departments,
    upsert_telegram_staff,
)
from storage.staff_auth import create_invite, invite_link
from storage.vocabulary import Role, system_clock


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = commands.add_parser("staff", help="staff accounts (web desk and Telegram chat)")
    actions = staff.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="add an account (prints a one-time invitation link) or change its role"
    )
    add.add_argument("login", help="login name (a Telegram id alone: an account for that id)")
    add.add_argument("role", choices=[role.value for role in Role])
    add.add_argument("--name", default=None, help="display name shown to colleagues")
    add.add_argument("--telegram-id", type=int, default=None, help="for the Telegram chat desk")
    add.add_argument(
        "--department", action="append", default=[], metavar="CODE", help="repeat for several"
    )
    actions.add_parser("list", help="list accounts")
    for name, text in (
        ("invite", "a new one-time link to set the password (also to reset a forgotten one)"),
        ("disable", "disable an account: its sessions end at once, its history stays"),
        ("enable", "enable a disabled account"),
    ):
        actions.add_parser(name, help=text).add_argument("login")


async def run(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "list":
        return await _list(session)
    if args.action == "add":
        return await _add(session, args, settings)
    staff = await get_by_login(session, args.login)
    if staff is None:
        print(f"no account {args.login!r}: citybot staff list", file=sys.stderr)
        return 1
    now = system_clock()
    if args.action == "invite":
        _print_invite(await create_invite(session, staff, now=now), settings)
        audit.record(session, actor="cli", action="staff.invited", subject=_subject(staff), now=now)
        return 0
    disable = args.action == "disable"
    staff.disabled_at = now if disable else None
    if disable:
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    audit.record(
        session, actor="cli", action=f"staff.{args.action}d", subject=_subject(staff), now=now
    )
    print(f"{staff.login}: {args.action}d")
    return 0


async def _list(session: AsyncSession) -> int:
    members = await list_staff(session)
    if not members:
        print("no staff yet: citybot staff add LOGIN admin --name 'Name'")
    for member in members:
        state = "disabled" if member.disabled_at is not None else "active"
        departments = ",".join(sorted(member.department_codes)) or "-"
        telegram = member.telegram_id if member.telegram_id is not None else "-"
        columns = (member.login, member.role, state, departments, telegram, member.name or "")
        print("\t".join(str(column) for column in columns))
    return 0


async def _add(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    now = system_clock()
    role = Role(args.role)
    try:
        if args.login.isdigit() and args.telegram_id is None:
            staff, created = await upsert_telegram_staff(
                session, telegram_id=int(args.login), role=role, now=now, name=args.name
            )
        else:
            staff, created = await _add_or_update(session, args, role, now)
    except AccountError as error:
        print(f"refused: {error.problem.value}: {error.value}", file=sys.stderr)
        return 1
    audit.record(
        session,
        actor="cli",
        action="staff.added" if created else "staff.role_changed",
        subject=_subject(staff),
        details={"role": role.value, "departments": sorted(staff.department_codes)},
        now=now,
    )
    print(f"{'added' if created else 'updated'} {staff.login} as {role.value}")
    if created and staff.password_hash is None:
        _print_invite(await create_invite(session, staff, now=now), settings)
    return 0


async def _add_or_update(
    session: AsyncSession, args: argparse.Namespace, role: Role, now: datetime
) -> tuple[Staff, bool]:
    existing = await get_by_login(session, args.login)
    if existing is None:
        staff = await add_account(
            session,
            login=args.login,
            role=role,
            now=now,
            name=args.name,
            telegram_id=args.telegram_id,
            departments=args.department,
        )
        return staff, True
    existing.role = role.value
    if args.name:
        existing.name = args.name
    if args.department:
        await set_departments(session, existing, args.department)
    return existing, False


def _print_invite(token: str, settings: Settings) -> None:
    link = invite_link(settings.public_url, token, port=settings.http_port)
    print(f"one-time link to set the password (valid 3 days): {link}")


def _subject(staff: Staff) -> str:
    return f"staff:{staff.id}"
