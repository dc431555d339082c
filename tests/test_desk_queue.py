"""The desk's Queues screen data (storage/desk/queue.py, search.py) on both databases: every
filter, keyset pages across deadline ties and tickets without a deadline, department isolation,
Cyrillic search, erased tickets, counts."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.desk.queue import (
    UNASSIGNED,
    BadCursor,
    QueueFilters,
    QueuePage,
    due_soon_until,
    list_queue,
    queue_counts,
)
from storage.desk.search import looks_like_number
from storage.erasure import erase_resident
from storage.models import Resident, Ticket
from tests.desk_seed import CALENDAR, KYIV, NOW, DeskSeed

Maker = async_sessionmaker[AsyncSession]


async def _page(
    sessionmaker: Maker,
    filters: QueueFilters | None = None,
    *,
    departments: Collection[str] = ("housing",),
    page: str | None = None,
    limit: int = 50,
) -> QueuePage:
    async with sessionmaker() as session:
        return await list_queue(
            session,
            departments=departments,
            filters=filters or QueueFilters(),
            now=NOW,
            calendar=CALENDAR,
            zone=KYIV,
            page=page,
            limit=limit,
        )


async def _ids(
    sessionmaker: Maker, filters: QueueFilters | None = None, **kwargs: object
) -> list[int]:
    page = await _page(sessionmaker, filters, **kwargs)  # type: ignore[arg-type]
    return [row.id for row in page.rows]


async def test_keyset_pages_over_ties_and_missing_deadlines(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    early, late = NOW + timedelta(days=1), NOW + timedelta(days=5)
    made = [
        await seed.filed(deadline_at=None),
        await seed.filed(deadline_at=late),
        await seed.filed(deadline_at=early),
        await seed.filed(deadline_at=early),
        await seed.filed(deadline_at=None),
        await seed.filed(deadline_at=early),
        await seed.filed(deadline_at=late - timedelta(days=30)),  # overdue
    ]
    await seed.filed(queue="transport", deadline_at=early)
    ids = [t.id for t in made]
    expected = [ids[6], ids[2], ids[3], ids[5], ids[1], ids[0], ids[4]]
    assert await _ids(sessionmaker) == expected

    pages: list[QueuePage] = []
    cursor: str | None = None
    while True:
        page = await _page(sessionmaker, page=cursor, limit=2)
        pages.append(page)
        if page.next is None:
            break
        cursor = page.next
    assert [[row.id for row in p.rows] for p in pages] == [
        expected[0:2],
        expected[2:4],
        expected[4:6],
        expected[6:7],
    ]
    assert pages[0].previous is None
    assert all(p.previous is not None for p in pages[1:])
    # Back from the last page (inside the tickets without a deadline) to the first.
    back = [pages[-1]]
    while back[-1].previous is not None:
        previous = back[-1].previous
        assert previous is not None
        back.append(await _page(sessionmaker, page=previous, limit=2))
    assert [[row.id for row in p.rows] for p in back] == [
        expected[6:7],
        expected[4:6],
        expected[2:4],
        expected[0:2],
    ]
    assert back[-1].next is not None
    # Back from a page that ends early returns a whole first page.
    third = await _page(sessionmaker, page=pages[1].previous, limit=3)
    assert [row.id for row in third.rows] == expected[0:3]
    assert third.previous is None


async def test_rows_carry_what_the_list_shows(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    resident = await seed.resident(name="Ївга Коваленко", district="pokrovskyi")
    long_body = "Довгий текст " * 30
    overdue = await seed.filed(
        resident_id=resident, body=long_body, deadline_at=NOW - timedelta(hours=1)
    )
    named = await seed.filed(
        resident_id=resident, full_name="Ївга К.", subject="Ліфт", channel="viber"
    )
    anonymous = await seed.filed(resident_id=resident, anonymous=True)
    rows = {row.id: row for row in (await _page(sessionmaker)).rows}
    first = rows[overdue.id]
    assert first.overdue and first.number == overdue.number
    assert first.snippet == long_body[:120]
    assert first.resident_name == "Ївга Коваленко"
    assert first.district == "pokrovskyi"
    assert first.kind == "appeal" and first.status == "new" and first.category == "housing"
    assert rows[named.id].snippet == "Ліфт"
    assert rows[named.id].resident_name == "Ївга К."
    assert rows[named.id].channel == "viber" and not rows[named.id].overdue
    assert rows[anonymous.id].resident_name is None


async def test_every_filter(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    ternivskyi = await seed.resident(district="ternivskyi")
    pokrovskyi = await seed.resident(district="pokrovskyi")
    plain = await seed.filed(resident_id=ternivskyi)
    info = await seed.filed(resident_id=ternivskyi, kind="info_request", category=None)
    closed = await seed.filed(
        resident_id=ternivskyi, status="closed", closed_after=timedelta(days=1)
    )
    answered = await seed.filed(resident_id=ternivskyi, status="answered", category="social")
    viber = await seed.filed(resident_id=pokrovskyi, channel="viber")
    mine = await seed.filed(resident_id=ternivskyi, assignee_id=42, status="in_progress")
    late = await seed.filed(resident_id=ternivskyi, deadline_at=NOW - timedelta(minutes=1))
    # Thursday 23:00 in Kyiv: within the next working day; Friday is not.
    soon = await seed.filed(resident_id=ternivskyi, deadline_at=due_soon_until(NOW, CALENDAR, KYIV))
    later = await seed.filed(resident_id=ternivskyi, deadline_at=NOW + timedelta(days=2))
    late_closed = await seed.filed(status="closed", deadline_at=NOW - timedelta(days=1))

    open_ids = {plain.id, info.id, answered.id, viber.id, mine.id, late.id, soon.id, later.id}
    assert set(await _ids(sessionmaker)) == open_ids
    closed_only = QueueFilters(statuses=frozenset({"closed"}))
    assert set(await _ids(sessionmaker, closed_only)) == {closed.id, late_closed.id}
    assert set(await _ids(sessionmaker, QueueFilters(statuses=frozenset()))) == open_ids | {
        closed.id,
        late_closed.id,
    }
    assert await _ids(sessionmaker, QueueFilters(kinds=frozenset({"info_request"}))) == [info.id]
    assert await _ids(sessionmaker, QueueFilters(categories=frozenset({"social"}))) == [answered.id]
    assert await _ids(sessionmaker, QueueFilters(districts=frozenset({"pokrovskyi"}))) == [viber.id]
    assert await _ids(sessionmaker, QueueFilters(channels=frozenset({"viber"}))) == [viber.id]
    assert await _ids(sessionmaker, QueueFilters(assignee=42)) == [mine.id]
    assert set(await _ids(sessionmaker, QueueFilters(assignee=UNASSIGNED))) == open_ids - {mine.id}
    assert await _ids(sessionmaker, QueueFilters(overdue=True)) == [late.id]
    # Overdue never lists a closed ticket, even when all statuses are asked for.
    assert await _ids(sessionmaker, QueueFilters(overdue=True, statuses=frozenset())) == [late.id]
    assert await _ids(sessionmaker, QueueFilters(due_soon=True)) == [soon.id]
    both = QueueFilters(
        statuses=frozenset({"new"}), channels=frozenset({"telegram"}), assignee=UNASSIGNED
    )
    assert set(await _ids(sessionmaker, both)) == {plain.id, info.id, late.id, soon.id, later.id}


def test_due_soon_skips_the_weekend() -> None:
    friday = NOW + timedelta(days=2)
    until = due_soon_until(friday, CALENDAR, KYIV).astimezone(KYIV)
    assert (until.date().isoformat(), until.hour, until.minute) == ("2026-11-30", 23, 59)


async def test_other_departments_never_show(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    resident = await seed.resident(name="Марко Вовчок")
    ours = await seed.filed(resident_id=resident, body="Вода з крана іржава")
    theirs = await seed.filed(queue="transport", resident_id=resident, body="Вода на зупинці")
    for search in ("вода", "Марко", theirs.number, theirs.number[-6:]):
        found = await _ids(sessionmaker, QueueFilters(search=search))
        assert theirs.id not in found
    assert await _ids(sessionmaker, QueueFilters(search="вода")) == [ours.id]
    assert await _ids(sessionmaker, departments=()) == []
    both = await _ids(
        sessionmaker, QueueFilters(search="вода"), departments=("housing", "transport")
    )
    assert set(both) == {ours.id, theirs.id}
    async with sessionmaker() as session:
        counts = await queue_counts(
            session, departments=["housing"], now=NOW, calendar=CALENDAR, zone=KYIV
        )
    assert set(counts) == {"housing"} and counts["housing"].open == 1


async def test_cyrillic_search_folds_case_and_apostrophes(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    water = await seed.filed(body="Немає ВОДИ у підʼїзді з понеділка")
    yevhen = await seed.filed(full_name="Євген Їжакевич", body="Прошу полагодити лавку")
    subject = await seed.filed(subject="ОСВІТЛЕННЯ на вулиці", body=None)
    percent = await seed.filed(body="Знижка 100% на проїзд")
    cases = {
        "вода": [],
        "води": [water.id],
        "ВоДи У": [water.id],
        "під'їзді": [water.id],
        "ПІД’ЇЗДІ": [water.id],
        "під`їзд": [water.id],
        "євген": [yevhen.id],
        "ЇЖАКЕВИЧ": [yevhen.id],
        "освітлення": [subject.id],
        "100%": [percent.id],
        "10_%": [],
        "немає  води": [water.id],  # white space folds too
        "води\nу": [water.id],
    }
    for query, expected in cases.items():
        assert await _ids(sessionmaker, QueueFilters(search=query)) == expected, query


async def test_search_by_number(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    first = await seed.filed()
    other = await seed.filed(prefix="ЗІ", kind="info_request", body=f"про {first.number[-6:]}")
    serial = first.number[-6:]
    assert looks_like_number(first.number) and looks_like_number(serial)
    assert looks_like_number("зв-2026") and not looks_like_number("вода 2026")
    for query in (first.number, first.number.lower(), serial, f"2026-{serial}"):
        assert await _ids(sessionmaker, QueueFilters(search=query)) == [first.id], query
    # A prefix finds every ticket of that kind and year; a number never matches the text.
    assert await _ids(sessionmaker, QueueFilters(search="зі-2026")) == [other.id]
    assert set(await _ids(sessionmaker, QueueFilters(search="2026"))) == {first.id, other.id}


async def test_search_by_resident_name(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    ivha = await seed.resident(name="Ївга Коваленко")
    named = await seed.filed(resident_id=ivha, body="Сміття")
    hidden = await seed.filed(resident_id=ivha, anonymous=True, body="Анонімно")
    stranger = await seed.filed(resident_id=await seed.resident(name="Іван Сірко"))
    assert await _ids(sessionmaker, QueueFilters(search="ЇВГА")) == [named.id]
    assert hidden.id not in await _ids(sessionmaker, QueueFilters(search="коваленко"))
    assert await _ids(sessionmaker, QueueFilters(search="сірко")) == [stranger.id]
    # A name set later is found too (the mapper event keeps the folded copy).
    async with sessionmaker() as session, session.begin():
        resident = await session.get(Resident, ivha)
        assert resident is not None
        resident.name = "Ївга Нова"
    assert await _ids(sessionmaker, QueueFilters(search="нова")) == [named.id]
    assert await _ids(sessionmaker, QueueFilters(search="коваленко")) == []


async def test_erased_tickets_are_found_by_number_only(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    resident = await seed.resident(name="Тарас Шевченко")
    ticket = await seed.filed(
        resident_id=resident, full_name="Тарас Г. Шевченко", body="Криниця біля хати"
    )
    assert await _ids(sessionmaker, QueueFilters(search="криниця")) == [ticket.id]
    async with sessionmaker() as session, session.begin():
        found = await session.get(Resident, resident)
        assert found is not None
        await erase_resident(session, found, now=NOW, actor="test")
    for query in ("криниця", "шевченко", "тарас"):
        assert await _ids(sessionmaker, QueueFilters(search=query)) == [], query
    assert await _ids(sessionmaker, QueueFilters(search=ticket.number)) == [ticket.id]
    async with sessionmaker() as session:
        stored = await session.scalar(select(Ticket.search_text).where(Ticket.id == ticket.id))
    assert stored == ticket.number.lower()
    row = (await _page(sessionmaker)).rows[0]
    assert row.snippet is None and row.resident_name is None


async def test_counts_per_department(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)
    await seed.filed(deadline_at=NOW - timedelta(days=1))
    await seed.filed(deadline_at=NOW - timedelta(days=1), assignee_id=7)
    await seed.filed(deadline_at=NOW + timedelta(hours=3), assignee_id=7)
    await seed.filed(deadline_at=None)
    await seed.filed(status="closed", deadline_at=NOW - timedelta(days=1))
    await seed.filed(queue="transport", deadline_at=NOW + timedelta(days=9))
    async with sessionmaker() as session:
        counts = await queue_counts(
            session,
            departments=["housing", "transport", "social"],
            now=NOW,
            calendar=CALENDAR,
            zone=KYIV,
        )
    housing, transport, social = counts["housing"], counts["transport"], counts["social"]
    assert (housing.open, housing.overdue, housing.due_soon, housing.unassigned) == (4, 2, 1, 2)
    assert (transport.open, transport.overdue, transport.due_soon, transport.unassigned) == (
        1,
        0,
        0,
        1,
    )
    assert (social.open, social.overdue) == (0, 0)


@pytest.mark.parametrize("cursor", ["", "garbage", "WzEsbnVsbF0", "WzIsbnVsbCwxXQ"])
async def test_a_cursor_we_did_not_make_is_refused(sessionmaker: Maker, cursor: str) -> None:
    with pytest.raises(BadCursor):
        await _page(sessionmaker, page=cursor)
