"""``GET /metrics`` end to end: the bot runs against the fake Telegram and Viber servers, residents
write and press buttons, staff answer, broadcasts go out, and Prometheus' own parser reads what
the route serves over HTTP, on SQLite and PostgreSQL.

The counts are checked against what the fakes saw (every call the bot made to them) and against
what the test did (each update it sent), never against the bot's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics.figures import FRESH_FOR
from bot.metrics.route import ROUTE
from storage.broadcasts import Progress
from storage.tickets import upsert_queue
from tests.harness import TelegramResident, ViberResident, onboard
from tests.staff_world import OPERATOR, TG_RESIDENT, VIBER_RESIDENT, World, card_of, staff_world
from tests.test_broadcast_helpers import new_broadcast, wait_done

pytestmark = pytest.mark.migrated_database

TOKEN = "metrics-Token_0123456789-abcdef"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# Prometheus' naming rules: snake case with our prefix; counters end in _total; a unit, when
# there is one, is a base unit at the end (seconds, bytes), before _total.
NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
LABEL_VALUE = re.compile(r"^[A-Za-z0-9_:.+-]{1,48}$")
OURS = "citybot_"
# Every family of ours (as the parser names them: counters without ``_total``), and its type.
FAMILIES = {
    "citybot_build_info",
    "citybot_updates",
    "citybot_update_failures",
    "citybot_update_handling_seconds",
    "citybot_api_calls",
    "citybot_api_retry_after_seconds",
    "citybot_channel_token_refused",
    "citybot_job_runs",
    "citybot_job_last_success_timestamp_seconds",
    "citybot_metrics_database_up",
    "citybot_metrics_database_read_seconds",
    "citybot_delivery_pace_per_second",
    "citybot_deliveries",
    "citybot_deliveries_due",
    "citybot_delivery_rate_per_second",
    "citybot_owed_replies",
    "citybot_tickets_open",
    "citybot_tickets_due_soon",
    "citybot_tickets_overdue",
}


async def scrape(port: int, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{ROUTE}", headers=headers) as response,
    ):
        return response.status, await response.text()


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and every family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def metrics_of(world: World) -> Samples:
    status, text = await scrape(world.runtime.settings.http_port)
    assert status == 200, text
    return parse(text)[0]


def api_counts(world: World) -> Counter[tuple[str, str]]:
    """Every call the fakes received: (channel, method) -> how many."""
    counts: Counter[tuple[str, str]] = Counter(
        ("telegram", call.method) for call in world.telegram.calls
    )
    assert world.viber is not None
    counts.update(("viber", endpoint) for endpoint, _ in world.viber.calls)
    return counts


def quiet_window() -> str:
    """A quiet-hours window around now (council time): non-urgent news waits in the queue."""
    local = datetime.now(ZoneInfo("Europe/Kyiv"))
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}"


async def wait_for(world: World, name: str, at_least: float, **labels: str) -> Samples:
    async with asyncio.timeout(15):
        while True:
            samples = await metrics_of(world)
            if total(samples, name, **labels) >= at_least:
                return samples
            await asyncio.sleep(0.2)


def labels_of(samples: Iterable[tuple[str, frozenset[tuple[str, str]]]]) -> set[tuple[str, str]]:
    return {pair for _, labels in samples for pair in labels}


async def test_a_scrape_counts_what_residents_staff_and_broadcasts_did(database_url: str) -> None:
    async with staff_world(
        database_url, viber=True, metrics_token=TOKEN, quiet_hours=quiet_window()
    ) as world:
        assert world.viber is not None
        port = world.runtime.settings.http_port
        telegram = TelegramResident(world.telegram, TG_RESIDENT, polling=False)
        viber = ViberResident(world.viber, VIBER_RESIDENT)
        await onboard(telegram)
        await onboard(viber)
        async with world.runtime.sessionmaker() as session, session.begin():
            await upsert_queue(session, code="roads", name="Дороги")
        await settled()
        before = await metrics_of(world)
        calls_before = api_counts(world)

        # Residents: a message and a button press in Telegram, a message in Viber whose reply
        # Viber refuses for now (it stays owed).
        await telegram.say("/help")
        await telegram.press("🏠 Головне меню")
        world.viber.fail_next("send_message", http_status=503)
        await viber.say("/help")
        # Staff take a ticket and answer it; another ticket is long overdue.
        ticket_id = await world.file(channel="telegram", external_id=str(TG_RESIDENT))
        ticket = await world.ticket(ticket_id)
        await world.press(OPERATOR, card_of(world, ticket)["message_id"], "✋ Взяти")
        await world.say(OPERATOR, "Ліфт полагодять завтра", thread_id=ticket.thread_id)
        old = world.clock() - timedelta(days=60)
        await world.file(queue="roads", category=None, received_at=old)
        # Urgent news goes out at once (Viber asks to slow down first); other news waits for
        # the end of the quiet hours.
        world.viber.fail_next("broadcast_message", status=12)
        urgent, planned = await new_broadcast(world.runtime.sessionmaker, urgent=True)
        assert planned == 2
        assert (await delivered(world, urgent)).sent == 2
        _, waiting = await new_broadcast(world.runtime.sessionmaker)
        assert waiting == 2
        world.clock.now = datetime.now(UTC) + timedelta(seconds=1)
        await settled()
        after = await metrics_of(world)
        calls = api_counts(world) - calls_before

        def moved(name: str, **labels: str) -> float:
            return total(after, name, **labels) - total(before, name, **labels)

        # Updates by channel and kind, each timed once.
        assert moved("citybot_updates_total", channel="telegram", kind="message") == 2
        assert moved("citybot_updates_total", channel="telegram", kind="callback") == 2
        assert moved("citybot_updates_total", channel="viber", kind="message") == 1
        assert moved("citybot_update_failures_total") == 0
        for channel, kind, count in (("telegram", "message", 2), ("viber", "message", 1)):
            timed = moved("citybot_update_handling_seconds_count", channel=channel, kind=kind)
            assert timed == count
            assert moved("citybot_update_handling_seconds_sum", channel=channel, kind=kind) > 0
        # Every call the fakes received is counted once, by channel and method.
        assert calls[("telegram", "sendMessage")] >= 3  # /help, the answer, the news
        for (channel, method), count in calls.items():
            assert moved("citybot_api_calls_total", channel=channel, method=method) == count
        assert moved("citybot_api_calls_total", channel="viber", outcome="error") == 1
        limited = moved("citybot_api_calls_total", channel="viber", outcome="rate_limited")
        assert limited == 1
        assert moved("citybot_api_retry_after_seconds_total", channel="viber") == 1.0
        assert moved("citybot_api_calls_total", channel="telegram", outcome="rate_limited") == 0
        # From the database at scrape time: the queue of the waiting news, the owed reply,
        # the open tickets.
        for channel in ("telegram", "viber"):
            assert value(after, "citybot_deliveries", channel=channel, state="pending") == 1
            assert value(after, "citybot_deliveries", channel=channel, state="sent") == 0
            assert value(after, "citybot_deliveries_due", channel=channel) == 1
            assert value(after, "citybot_delivery_rate_per_second", channel=channel) == 0
        assert value(after, "citybot_owed_replies", channel="viber") == 1
        assert value(after, "citybot_owed_replies", channel="telegram") == 0
        assert value(after, "citybot_tickets_open", department="housing") == 1
        assert value(after, "citybot_tickets_overdue", department="housing") == 0
        assert value(after, "citybot_tickets_open", department="roads") == 1
        assert value(after, "citybot_tickets_overdue", department="roads") == 1
        assert total(after, "citybot_tickets_due_soon") == 0
        assert value(after, "citybot_metrics_database_up") == 1
        assert value(after, "citybot_delivery_pace_per_second", channel="telegram") == 30
        # Scheduled jobs: the news progress job runs every two seconds.
        jobs = await wait_for(world, "citybot_job_runs_total", 1, job="news-progress", outcome="ok")
        assert total(jobs, "citybot_job_last_success_timestamp_seconds", job="news-progress") > 0
        # The process.
        assert value(after, "process_cpu_seconds_total") > 0
        assert total(after, "python_info") == 1

        status, text = await scrape(port)
        assert status == 200
        check_conventions(text, secrets=[str(TG_RESIDENT), VIBER_RESIDENT, str(OPERATOR)])
        # The token is required.
        assert (await scrape(port, token=None))[0] == 401
        assert (await scrape(port, token=TOKEN[:-1] + "x"))[0] == 401
        assert (await scrape(port, token=""))[0] == 401


def check_conventions(text: str, *, secrets: list[str], families: set[str] = FAMILIES) -> None:
    """Prometheus' naming rules, and no label value that could name a person or hold text."""
    samples, types = parse(text)
    ours = {name: kind for name, kind in types.items() if name.startswith(OURS)}
    assert set(ours) == families
    for name, kind in ours.items():
        assert NAME.match(name), name
        assert not name.endswith("_total"), name  # the parser strips it from counters
        if kind == "histogram":
            assert name.endswith("_seconds"), name
    for sample_name, labels in samples:
        if not sample_name.startswith(OURS):
            continue
        family = next(n for n in ours if sample_name.startswith(n))
        if ours[family] == "counter":
            assert sample_name == family + "_total", sample_name
        for label, label_value in labels:
            assert NAME.match(label), label
            if label == "le":
                continue
            assert LABEL_VALUE.match(label_value), (sample_name, label, label_value)
            assert not label_value.isdigit(), (sample_name, label, label_value)
            assert label_value not in secrets, (sample_name, label, label_value)


async def delivered(world: World, broadcast_id: int) -> Progress:
    """Wait for the broadcast to finish, keeping the world's clock (which stands still
    otherwise) on the real time, so that the delivery Viber deferred comes due."""

    async def tick() -> None:
        while True:
            world.clock.now = datetime.now(UTC)
            await asyncio.sleep(0.05)

    ticking = asyncio.create_task(tick())
    try:
        return await wait_done(world.runtime.sessionmaker, broadcast_id, timeout=15)
    finally:
        ticking.cancel()


async def settled() -> None:
    """Past the figures' cache and the batch that records replies as sent."""
    await asyncio.sleep(FRESH_FOR + 0.2)
