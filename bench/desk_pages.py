"""The web desk's Queues page, search and Dashboard as whole HTTP requests, at 100,000 tickets
and 200,000 residents, on PostgreSQL and SQLite, against ``GET /healthz`` in the same run.

    python -m bench.desk_pages [--db postgresql|sqlite|both] [--tickets 100000]
        [--residents 200000] [--repeat 30]

The bot runs as ``citybot run`` runs it (``tests.desk_world``: the real aiohttp server on a
local port, the desk mounted under /desk/, the session, CSRF and security middlewares), seeded
with ``bench.desk_queue``'s rows. A staff member of all eight departments signs in through the
login form, then each page is fetched ``--repeat`` times after one warm-up with a client that
keeps its cookies, as a browser does. Times are the client's, from sending the request to the
last byte of the page over loopback: the server's time plus a little client overhead (an upper
bound on the server time). A search is the form's POST and the redirected GET (two requests);
"search, next page" is a GET with the search key and a cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.desk_queue import DEPARTMENTS, seed
from storage.vocabulary import Role
from tests.conftest import pg_database
from tests.desk_world import Browser, DeskWorld, desk_world

Fetch = Callable[[], Awaitable[None]]
_NEXT = re.compile(r'<a href="([^"]*)" rel="next"')


async def _get(browser: Browser, path: str) -> str:
    async with browser.http.get(browser.base + path) as response:
        body = await response.text()
        assert response.status == 200, (path, response.status, body[:300])
        return body


async def _search(browser: Browser, query: str) -> str:
    async with browser.http.post(
        browser.base + "/desk/search", data={"csrf": browser.csrf, "q": query}
    ) as response:
        body = await response.text()
        assert response.status == 200 and "/desk/?q=" in str(response.url), response.status
        return body


def _next(body: str) -> str:
    found = _NEXT.search(body)
    assert found is not None, "no next page"
    return html.unescape(found.group(1))


async def fetches(world: DeskWorld, browser: Browser, admin: Browser) -> dict[str, Fetch]:
    first = await _get(browser, "/desk/")
    # Page 22 of the open tickets (rows 1,051–1,100), or the last one of a smaller seed.
    deep_link = _next(first)
    for _ in range(20):
        body = await _get(browser, deep_link)
        if _NEXT.search(body) is None:
            break
        deep_link = _next(body)
    searched = await _search(browser, "ліфт")
    search_next = _next(searched)
    number = re.search(r'data-ticket-id="\d+"[^>]*>\s*<td[^>]*><a href="[^"]*">([^<]+)</a>', first)
    assert number is not None

    def page(path: str, who: Browser = browser) -> Fetch:
        async def run() -> None:
            await _get(who, path)

        return run

    def search(query: str) -> Fetch:
        async def run() -> None:
            await _search(browser, query)

        return run

    async def healthz() -> None:
        async with browser.http.get(world.base + "/healthz") as response:
            await response.read()
            assert response.status == 200

    return {
        "baseline: GET /healthz": healthz,
        "queue page 1, all 8 departments": page("/desk/"),
        "queue page 1, one department": page("/desk/?department=housing"),
        "queue page 22 (by cursor)": page(deep_link),
        "queue, every status": page("/desk/?status=all"),
        "filter overdue": page("/desk/?deadline=overdue"),
        "filter due within a working day": page("/desk/?deadline=soon"),
        "filter unassigned": page("/desk/?assignee=none"),
        "filter district + category": page("/desk/?district=pokrovskyi&category=social"),
        "search number (POST + GET)": search(number.group(1)),
        "search text, common (POST + GET)": search("ліфт"),
        "search text, rare (POST + GET)": search("світлофор 9"),
        "search name (POST + GET)": search("Євгенія Шевчук"),
        "search, next page (GET)": page(search_next),
        "dashboard": page("/desk/dashboard", admin),
    }


async def timings(run: Fetch, repeat: int) -> list[float]:
    await run()  # warm-up
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        found.append((time.perf_counter() - started) * 1000)
    return found


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def bench(url: str, args: argparse.Namespace, label: str) -> None:
    async with desk_world(url) as world:
        took = time.perf_counter()
        await seed(
            world.runtime.sessionmaker,
            residents=args.residents,
            tickets=args.tickets,
            now=world.clock(),
        )
        took = time.perf_counter() - took
        print(
            f"\n{label}: seeded {args.residents:,} residents, {args.tickets:,} tickets in "
            f"{took:.1f} s"
        )
        operator = await world.account("bench", Role.OPERATOR, departments=tuple(DEPARTMENTS))
        head = await world.account("head", Role.HEAD, departments=tuple(DEPARTMENTS))
        browser = await world.signed_in(operator)
        dashboard = await world.signed_in(head)
        baseline: float | None = None
        print(f"| {label} | p50 ms | p95 ms | p95 / baseline |")
        print("| --- | --- | --- | --- |")
        for name, run in (await fetches(world, browser, dashboard)).items():
            found = await timings(run, args.repeat)
            p50, p95 = statistics.median(found), _p95(found)
            baseline = baseline or p95
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / baseline:.1f}× |", flush=True)


async def main(args: argparse.Namespace) -> None:
    if args.db in ("postgresql", "both"):
        async with pg_database() as url:
            await bench(url, args, "PostgreSQL")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            await bench(f"sqlite+aiosqlite:///{Path(folder) / 'desk.db'}", args, "SQLite")
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="desk pages over HTTP benchmark")
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
