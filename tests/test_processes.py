"""Two real `citybot run` processes on one PostgreSQL database, as a council would scale out:
one of them polls Telegram and one sends each channel's broadcasts, every resident gets each
message once, and when the sending process is killed (-9) the other takes over."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import delete, func, select, update

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from storage.db import create_engine, create_sessionmaker
from storage.models import Resident, ResidentTopic
from storage.vocabulary import Topic
from tests.conftest import free_port
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN
from tests.test_broadcast_helpers import (
    Person,
    add_residents,
    new_broadcast,
    subscribe_viber,
    wait_done,
)

STARTUP = 60.0
TELEGRAM_USERS = [7_000 + index for index in range(30)]
VIBER_USERS = [f"viber-proc-{index:03d}==" for index in range(30)]
LEADS_TELEGRAM = "now sends for sender:telegram"


@dataclass
class Process:
    port: int
    handle: asyncio.subprocess.Process
    log: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def said(self, text: str) -> bool:
        return any(text in line for line in self.log)


async def _read(process: Process) -> None:
    assert process.handle.stderr is not None
    async for line in process.handle.stderr:
        process.log.append(line.decode(errors="replace"))


async def _healthy(port: int) -> None:
    async with asyncio.timeout(STARTUP), aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def citybot(env: dict[str, str], cwd: Path) -> AsyncIterator[Process]:
    port = free_port()
    handle = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env={
            **env,
            "CITYBOT_HTTP_PORT": str(port),
            "CITYBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    process = Process(port=port, handle=handle)
    process.reader = asyncio.create_task(_read(process))
    try:
        await _healthy(port)
        yield process
    finally:
        if handle.returncode is None:
            handle.send_signal(signal.SIGTERM)
            await asyncio.wait_for(handle.wait(), timeout=30)
        await asyncio.wait_for(process.reader, timeout=5)


async def test_two_processes_share_the_work_and_take_over(pg_url: str, tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYBOT_")}
    async with FakeTelegram(TELEGRAM_TOKEN) as tg, FakeViber(VIBER_TOKEN) as vb:
        env = {
            **clean,
            "CITYBOT_DATABASE_URL": pg_url,
            "CITYBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "CITYBOT_TELEGRAM_API_URL": tg.base_url,
            "CITYBOT_VIBER_TOKEN": VIBER_TOKEN,
            "CITYBOT_VIBER_API_URL": vb.base_url,
            "CITYBOT_QUIET_HOURS": "",
        }
        # Telegram residents write first (a bot cannot start a conversation); whichever
        # process polls creates them.
        for user_id in TELEGRAM_USERS:
            await tg.send_text(user_id, "/start")
        subscribe_viber(vb, VIBER_USERS)
        engine = create_engine(pg_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            async with citybot(env, tmp_path) as first, citybot(env, tmp_path) as second:
                async with asyncio.timeout(STARTUP):
                    while True:
                        async with sessionmaker() as session:
                            count = await session.scalar(select(func.count(Resident.id)))
                        if count == len(TELEGRAM_USERS):
                            break
                        await asyncio.sleep(0.2)
                # They finished onboarding: consent, the whole city, every topic.
                async with sessionmaker() as session, session.begin():
                    await session.execute(
                        update(Resident).values(consent_at=func.now(), district="city")
                    )
                    ids = (await session.scalars(select(Resident.id))).all()
                    await session.execute(delete(ResidentTopic))
                    session.add_all(
                        ResidentTopic(resident_id=resident_id, topic=topic.value)
                        for resident_id in ids
                        for topic in Topic
                    )
                await add_residents(sessionmaker, [Person("viber", user) for user in VIBER_USERS])

                broadcast_id, planned = await new_broadcast(sessionmaker, text="Перша новина")
                assert planned == 60
                done = await wait_done(sessionmaker, broadcast_id, timeout=60)
                assert (done.sent, done.failed, done.blocked) == (60, 0, 0)
                # One process leads Telegram sending; one polls (no 409 from two pollers).
                leaders = [p for p in (first, second) if p.said(LEADS_TELEGRAM)]
                assert len(leaders) == 1
                assert not any(p.said("Conflict") for p in (first, second))

                leader = leaders[0]
                other = second if leader is first else first
                leader.handle.kill()
                await leader.handle.wait()
                second_id, _ = await new_broadcast(sessionmaker, text="Друга новина")
                done = await wait_done(sessionmaker, second_id, timeout=60)
                assert (done.sent, done.failed) == (60, 0)
                assert other.said(LEADS_TELEGRAM)
        finally:
            await engine.dispose()
        for user_id in TELEGRAM_USERS:
            texts = [message.get("text") for message in tg.messages(user_id)]
            assert texts.count("Перша новина") == 1 and texts.count("Друга новина") == 1
        for user in VIBER_USERS:
            assert vb.texts(user) == ["Перша новина", "Друга новина"]
