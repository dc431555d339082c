"""Every desk endpoint × every kind of visitor, over HTTP on both databases.

Visitors: signed out; an administrator; an editor, an operator and a head of department who
work in "housing"; an operator of "transport" (another department). ``ACCESS`` says which roles
each route is for; a desk route missing from it fails the test, so no page ships without that
decision. Checked for each route and visitor:

- signed out: a page leads to the login form (303), an action is 401 (public routes excepted);
- a role the route is not for: 403, for pages and actions alike (nothing is changed);
- a role it is for: pages answer 200 (or, for one thing of a kind, anything but 401/403);
  actions of allowed roles are tested with their effects in each screen's own tests;
- the other department's operator: refused (403 or 404) on everything about a housing ticket.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.desk.app import SCREENS
from storage.broadcasts import create_broadcast
from storage.polls import create_poll
from storage.tickets import add_message, get_ticket
from storage.vocabulary import MessageDirection, Role
from tests.desk_world import Browser, DeskWorld, desk_world

pytestmark = pytest.mark.migrated_database

PUBLIC = "public"
EVERYONE = frozenset(Role)
WORKERS = frozenset({Role.ADMIN, Role.EDITOR, Role.OPERATOR})
EDITORS = frozenset({Role.ADMIN, Role.EDITOR})
ADMINS = frozenset({Role.ADMIN})
OVERSEERS = frozenset({Role.ADMIN, Role.HEAD})

# Route templates as registered (regex parts dropped) → who may.
ACCESS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/login/code"): PUBLIC,
    ("POST", "/login/code"): PUBLIC,
    ("POST", "/language"): PUBLIC,
    ("GET", "/invite"): PUBLIC,
    ("POST", "/invite"): PUBLIC,
    ("GET", "/totp/setup"): PUBLIC,
    ("POST", "/totp/setup"): PUBLIC,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/"): EVERYONE,
    ("POST", "/search"): EVERYONE,
    ("GET", "/tickets/{id}/row"): EVERYONE,
    ("GET", "/dashboard"): OVERSEERS,
    ("GET", "/account"): EVERYONE,
    ("POST", "/account/profile"): EVERYONE,
    ("POST", "/account/password"): EVERYONE,
    ("POST", "/account/totp/off"): EVERYONE,
    ("GET", "/events"): EVERYONE,
    ("POST", "/tickets/{id}/typing"): WORKERS,
    ("GET", "/tickets/{id}/thread"): EVERYONE,
    ("GET", "/tickets/{ticket_id}"): EVERYONE,
    ("POST", "/tickets/{ticket_id}/{action}"): WORKERS,
    ("GET", "/files/{message_id}"): EVERYONE,
    ("GET", "/incidents"): EVERYONE,
    ("GET", "/incidents/new"): WORKERS,
    ("POST", "/incidents/new"): WORKERS,
    ("GET", "/incidents/{id}"): EVERYONE,
    ("POST", "/incidents/{id}/{action}"): WORKERS,
    ("GET", "/media"): EVERYONE,
    ("POST", "/media/{id}"): WORKERS,
    ("GET", "/tickets/{ticket_id}/incident"): WORKERS,
    ("POST", "/tickets/{ticket_id}/incident"): WORKERS,
    ("POST", "/queue/link"): WORKERS,
    ("GET", "/consultations"): EVERYONE,
    ("GET", "/consultations/{id}"): EVERYONE,
    # The CSV names who took part; decisions, publishing and closing are editors'.
    ("GET", "/consultations/{id}/report.{fmt}"): EDITORS,
    ("POST", "/consultations/{id}/{action}"): EDITORS,
    # Drafts and the organisation registry: editors change, every role reads the registry.
    ("GET", "/consultations/new"): EDITORS,
    ("POST", "/consultations/new"): EDITORS,
    ("GET", "/consultations/{id}/edit"): EDITORS,
    ("POST", "/consultations/{id}/edit"): EDITORS,
    ("GET", "/organisations"): EVERYONE,
    ("GET", "/organisations/new"): EDITORS,
    ("POST", "/organisations/new"): EDITORS,
    ("GET", "/organisations/{id}/edit"): EDITORS,
    ("POST", "/organisations/{id}/edit"): EDITORS,
    ("POST", "/organisations/{id}/code"): EDITORS,
    ("POST", "/organisations/invite"): EDITORS,
}
for _path in ("/news", "/polls"):
    ACCESS.update(
        {
            ("GET", _path): EDITORS,
            ("GET", _path + "/new"): EDITORS,
            ("POST", _path + "/new"): EDITORS,
            ("GET", _path + "/{id}"): EDITORS,
        }
    )
for _action in ("", "/send", "/approve", "/reopen", "/cancel", "/stop"):
    ACCESS[("POST", "/news/{id}" + _action)] = EDITORS
ACCESS[("GET", "/news/count")] = EDITORS
ACCESS[("GET", "/news/{id}/progress")] = EDITORS
for _action in ("/send", "/cancel", "/close", "/stop"):
    ACCESS[("POST", "/polls/{id}" + _action)] = EDITORS
ACCESS[("GET", "/polls/{id}/chart.png")] = EDITORS
for _method, _path in (
    ("GET", "/admin/staff"),
    ("POST", "/admin/staff"),
    ("GET", "/admin/staff/{id}"),
    ("POST", "/admin/staff/{id}"),
    ("GET", "/admin/staff/{id}/invitation"),
    ("POST", "/admin/staff/{id}/invite"),
    ("POST", "/admin/staff/{id}/disable"),
    ("POST", "/admin/staff/{id}/enable"),
    ("POST", "/admin/staff/{id}/totp-reset"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/calendar"),
    ("POST", "/admin/calendar/holidays"),
    ("POST", "/admin/calendar/holidays/remove"),
    ("POST", "/admin/calendar/martial-law"),
    ("GET", "/admin/departments"),
    ("POST", "/admin/departments"),
    ("POST", "/admin/departments/routes"),
    ("POST", "/admin/departments/{name}"),
):
    ACCESS[(_method, _path)] = ADMINS
for _method, _path in (
    ("GET", "/admin/templates"),
    ("POST", "/admin/templates"),
    ("POST", "/admin/templates/delete"),
):
    ACCESS[(_method, _path)] = EDITORS

# Routes about one housing ticket: the other department's operator is refused there.
TICKET_ROUTES = re.compile(r"^/(tickets|files)/")
# GET routes whose answer for an allowed visitor depends on the thing (a chart of a poll with no
# votes, a file of a message without one, an invitation shown once): not 401/403 is enough.
LOOSE = {
    "/polls/{id}/chart.png",
    "/files/{message_id}",
    "/admin/staff/{id}/invitation",
    "/incidents/{id}",  # no incident of that id: 404
    "/consultations/{id}",  # no consultation of that id: 404
    "/consultations/{id}/report.{fmt}",
    "/consultations/{id}/edit",  # no draft of that id: 404
    "/organisations/{id}/edit",  # no organisation of that id: 404
}


def _registered() -> set[tuple[str, str]]:
    found = set()
    for screen in SCREENS:
        for route in screen():
            found.add((route.method, re.sub(r"\{(\w+):[^}]*\}+", r"{\1}", route.path)))
    return found


def test_every_desk_route_says_who_may() -> None:
    registered = _registered()
    assert registered - set(ACCESS) == set(), "desk routes missing from ACCESS"
    assert set(ACCESS) - registered == set(), "ACCESS lists routes the desk does not have"


async def _things(world: DeskWorld, editor_id: int, operator_id: int) -> dict[str, str]:
    ticket_id = await world.file(queue="housing")
    now = world.clock()
    async with world.runtime.sessionmaker() as session, session.begin():
        ticket = await get_ticket(session, ticket_id=ticket_id)
        assert ticket is not None
        message = add_message(
            session, ticket, direction=MessageDirection.RESIDENT, now=now, text="Фото двору"
        )
        news = await create_broadcast(session, text="Новина", now=now, created_by=editor_id)
        poll = await create_poll(
            session,
            question="Питання?",
            options=["Так", "Ні"],
            closes_at=now + timedelta(days=7),
            now=now,
            created_by=editor_id,
        )
        await session.flush()
        ids = {"message": message.id, "news": news.id, "poll": poll.id}
    return {
        "ticket": str(ticket_id),
        "message": str(ids["message"]),
        "news": str(ids["news"]),
        "poll": str(ids["poll"]),
        "staff": str(operator_id),
    }


def _concrete(path: str, things: dict[str, str]) -> str:
    if path.startswith("/news/"):
        path = path.replace("{id}", things["news"])
    elif path.startswith("/polls/"):
        path = path.replace("{id}", things["poll"])
    elif path.startswith("/admin/staff/"):
        path = path.replace("{id}", things["staff"])
    elif path.startswith("/incidents/"):
        path = path.replace("{action}", "update")
    elif path.startswith("/consultations/"):
        path = path.replace("{action}", "decide").replace("{fmt}", "pdf")
    return "/desk" + (
        path.replace("{id}", things["ticket"])
        .replace("{ticket_id}", things["ticket"])
        .replace("{message_id}", things["message"])
        .replace("{action}", "take")
        .replace("{name}", "housing")
    )


async def _status(browser: Browser, method: str, path: str) -> int:
    if method == "GET":
        async with browser.http.get(browser.base + path, allow_redirects=False) as response:
            return response.status
    async with browser.http.post(
        browser.base + path,
        data={"csrf": browser.csrf},
        headers={"X-CSRF-Token": browser.csrf},
        allow_redirects=False,
    ) as response:
        return response.status


async def _check(
    method: str,
    template: str,
    who: frozenset[Role] | str,
    path: str,
    visitors: dict[Role, Browser],
    stranger: Browser,
    anonymous: Browser,
) -> list[str]:
    """What is wrong with one route: the statuses each visitor got that they should not have."""
    wrong: list[str] = []
    got = await _status(anonymous, method, path)
    if who == PUBLIC:
        return [f"signed out {method} {path}: {got}"] if got >= 500 else []
    expected = 303 if method == "GET" else 401
    if got != expected:
        wrong.append(f"signed out {method} {path}: {got}, expected {expected}")
    for role, browser in visitors.items():
        allowed = role in who
        if allowed and method != "GET":
            continue  # an allowed action would act: each screen's tests check it
        got = await _status(browser, method, path)
        if not allowed:
            fine = got == 403
        else:
            fine = got not in (401, 403) if template in LOOSE else got == 200
        if not fine or got >= 500:
            wrong.append(f"{role} {method} {path}: {got}")
    if TICKET_ROUTES.match(template):
        # Another department's ticket: refused, page or action (the action changes nothing).
        got = await _status(stranger, method, path)
        if got not in (403, 404):
            wrong.append(f"other department {method} {path}: {got}, expected 403/404")
    return wrong


async def test_every_route_for_every_visitor(database_url: str) -> None:
    async with desk_world(database_url) as world:
        admin = await world.account("ira", Role.ADMIN, departments=None, totp=True)
        editor = await world.account("olena", Role.EDITOR)
        operator = await world.account("maria", Role.OPERATOR)
        head = await world.account("petro", Role.HEAD)
        outsider = await world.account("taras", Role.OPERATOR, departments=("transport",))
        things = await _things(world, editor.id, operator.id)
        visitors = {
            Role.ADMIN: await world.signed_in(admin),
            Role.EDITOR: await world.signed_in(editor),
            Role.OPERATOR: await world.signed_in(operator),
            Role.HEAD: await world.signed_in(head),
        }
        stranger = await world.signed_in(outsider)
        anonymous = await world.browser()
        wrong: list[str] = []
        for (method, template), who in sorted(ACCESS.items()):
            if template == "/logout":
                continue  # signing out is tested in test_desk_auth.py
            path = _concrete(template, things)
            wrong += await _check(method, template, who, path, visitors, stranger, anonymous)
        assert wrong == [], "\n".join(wrong)
        # Nothing a refused visitor sent changed the ticket.
        async with world.runtime.sessionmaker() as session:
            ticket = await get_ticket(session, ticket_id=int(things["ticket"]))
        assert ticket is not None and ticket.assignee_id is None
