"""Closing a large public consultation: how long the close takes (the report made as PDF and
CSV, the outcome queued for every participant), and whether the rest of the bot is served
meanwhile.

    python -m bench.consultation_close [--submissions 1000] [--comment 2000] [--sqlite]

Seeded through the staff core and the storage the resident flow uses (as
tests/test_consultations_core.py does): an editor, ``--submissions`` residents in the seven
districts, a published consultation with a choice question and a free-text one, each resident's
submission with a comment of about ``--comment`` characters of Ukrainian text (a third of them
with a staff decision). Then, in the same run:

- *baseline*: the report rendered on the event loop, as the close did it before
  (``_Writer.pdf`` and ``.csv`` called directly), while a ticker (a 5 ms sleep) measures how
  late the loop answers;
- *now*: ``ops.close`` as a desk calls it (the rendering in a worker thread), with the same
  ticker.

Reported: wall time of each, the longest loop stall in each and their ratio, the report's sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from bot.migrate import upgrade_to_head
from handlers.staff import consultations as ops
from handlers.staff.consultations import report
from storage import consultations
from storage.db import create_engine, create_sessionmaker
from tests.conftest import pg_database, sqlite_url
from tests.test_consultations_core import WEB, World
from tests.test_staff_core_tickets import done

DISTRICTS = (
    "dovhyntsivskyi",
    "inhuletskyi",
    "metalurhiinyi",
    "pokrovskyi",
    "saksahanskyi",
    "ternivskyi",
    "tsentralno_miskyi",
)
# A resident's comment is made of these words, in a random order and length.
TEXT = (
    "пропоную залишити більше місця для дитячих майданчиків у дворах та облаштувати "
    "освітлення вздовж пішохідних доріжок, бо ввечері там темно й небезпечно; також варто "
    "передбачити контейнери для роздільного збору сміття, лавки для людей похилого віку, "
    "пандуси біля під'їздів і регулярне прибирання листя восени 🙂 дякую за можливість"
)
WORDS = TEXT.split()
TICK = 0.005


@dataclass
class Stalls:
    longest: float = 0.0
    ticks: int = 0


async def _ticker(stop: asyncio.Event, stalls: Stalls) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(TICK)
        stalls.longest = max(stalls.longest, time.perf_counter() - started - TICK)
        stalls.ticks += 1


def _comment(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words)


async def _seed(world: World, count: int, comment: int) -> int:
    await world.setup()
    rng = random.Random(2026)
    residents = [
        await world.resident(f"r{index}", district=DISTRICTS[index % len(DISTRICTS)])
        for index in range(count)
    ]
    created = done(await ops.create(world.core, WEB, world.draft(districts=())))
    done(await ops.publish(world.core, WEB, created.id))
    for index, resident in enumerate(residents):
        await world.submit(created.id, resident, comment=_comment(rng, comment), choice=index % 3)
    return created.id


async def _timed(work: Awaitable[object]) -> tuple[float, Stalls]:
    stop, stalls = asyncio.Event(), Stalls()
    ticker = asyncio.create_task(_ticker(stop, stalls))
    await asyncio.sleep(0.05)  # the ticker is running before the work starts
    started = time.perf_counter()
    await work
    elapsed = time.perf_counter() - started
    stop.set()
    await ticker
    return elapsed, stalls


async def run(url: str, count: int, comment: int) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        world = World(create_sessionmaker(engine))
        seeding = time.perf_counter()
        consultation_id = await _seed(world, count, comment)
        print(f"seeded {count} submissions in {time.perf_counter() - seeding:.1f} s")

        async def on_the_loop() -> None:
            # The close's rendering before it moved to a thread (the module's own parts).
            async with world.sessionmaker() as session:
                consultation = await consultations.get(session, consultation_id)
                assert consultation is not None
                figures = await report._figures(session, consultation)
                writer = report._Writer(world.core.catalog, "uk", world.core)
                writer.pdf(figures)
                writer.csv(figures)

        outcome = "Правила ухвалено з урахуванням думок."
        base_time, base_stalls = await _timed(on_the_loop())
        closing = asyncio.ensure_future(ops.close(world.core, WEB, consultation_id, outcome))
        now_time, now_stalls = await _timed(closing)
        closed = done(closing.result())
        async with world.sessionmaker() as session:
            stored = await consultations.report_of(session, consultation_id)
        assert stored is not None
        print(f"report: PDF {len(stored.pdf) / 1024:.0f} KiB, CSV {len(stored.csv) / 1024:.0f} KiB")
        print(f"outcome queued for {closed.recipients} participants")
        print("| | wall time | longest loop stall | ticks |")
        print("| --- | --- | --- | --- |")
        print(
            f"| baseline: report rendered on the loop | {base_time:.2f} s "
            f"| {base_stalls.longest * 1000:.0f} ms | {base_stalls.ticks} |"
        )
        print(
            f"| now: ops.close (render in a thread) | {now_time:.2f} s "
            f"| {now_stalls.longest * 1000:.0f} ms | {now_stalls.ticks} |"
        )
        ratio = now_stalls.longest / base_stalls.longest if base_stalls.longest else 0.0
        print(f"longest stall, now / baseline: {ratio:.3f}")
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--comment", type=int, default=2000)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            await run(sqlite_url(Path(folder)), args.submissions, args.comment)
    else:
        async with pg_database() as url:
            await run(url, args.submissions, args.comment)


if __name__ == "__main__":
    asyncio.run(main())
