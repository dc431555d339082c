"""The parts of ``GET /metrics`` the end-to-end test does not reach: the route closed without a
token, the settings' check of the token, scheduled jobs' runs and failures, a scrape that does not
wait long for a database that does not answer, and the outcomes of aiogram's calls."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import generate_latest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import TELEGRAM_API_URL, SettingsError, load_settings
from bot.metrics.core import Metrics
from bot.metrics.figures import DatabaseFigures
from bot.metrics.jobs import once_jobs
from bot.metrics.telegram import CountedCalls
from bot.migrate import upgrade_to_head
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.telegram.channel import create_bot
from storage.db import create_engine, create_sessionmaker
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, bot_settings, running_bot
from tests.test_broadcast_helpers import open_telegram_chats
from tests.test_metrics import TOKEN, parse, scrape, total, value

pytestmark = pytest.mark.migrated_database

ZONE = "Europe/Kyiv"


async def test_without_a_token_the_route_does_not_exist(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        assert settings.metrics_token is None
        async with running_bot(settings):
            for token in (None, TOKEN, ""):
                status, _ = await scrape(settings.http_port, token=token)
                assert status == 404


@pytest.mark.parametrize("token", ["short", "sixteen chars ok", "x" * 15, "ключ-" * 5])
def test_a_guessable_or_unsendable_token_is_refused(token: str) -> None:
    with pytest.raises(SettingsError, match="CITYBOT_METRICS_TOKEN"):
        load_settings({"CITYBOT_METRICS_TOKEN": token})


def test_an_empty_token_means_no_metrics() -> None:
    assert load_settings({"CITYBOT_METRICS_TOKEN": " "}).metrics_token is None
    assert load_settings({"CITYBOT_METRICS_TOKEN": TOKEN}).metrics_token == TOKEN


async def test_job_runs_and_failures_are_counted(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Jobs that run once per fire time (OnceJobs) and plain interval jobs, each succeeding
    and failing, on the real scheduler."""
    metrics = Metrics()
    scheduler = AsyncIOScheduler(timezone=ZONE)
    jobs = once_jobs(scheduler, sessionmaker=sessionmaker, zone=scheduler.timezone, metrics=metrics)

    async def works(_at: datetime) -> None:
        return None

    async def breaks(_at: datetime) -> None:
        raise RuntimeError("the job broke")

    async def plain_breaks() -> None:
        raise RuntimeError("the plain job broke")

    jobs.add("works", works, second="*")
    jobs.add("breaks", breaks, second="*")
    scheduler.add_job(works, "interval", seconds=0.2, args=[None], id="plain-works")
    scheduler.add_job(plain_breaks, "interval", seconds=0.2, id="plain-breaks")
    started = time.time()
    scheduler.start()
    try:
        async with asyncio.timeout(5):
            while True:
                samples, _ = parse(generate_latest(metrics.registry).decode())
                counts = {
                    job: {
                        outcome: value(samples, "citybot_job_runs_total", job=job, outcome=outcome)
                        for outcome in ("ok", "failed")
                    }
                    for job in ("works", "breaks", "plain-works", "plain-breaks")
                }
                if all(sum(outcomes.values()) for outcomes in counts.values()):
                    break
                await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert counts["works"]["failed"] == counts["breaks"]["ok"] == 0
    assert counts["plain-works"]["failed"] == counts["plain-breaks"]["ok"] == 0
    last = "citybot_job_last_success_timestamp_seconds"
    assert value(samples, last, job="works") >= started
    assert value(samples, last, job="plain-works") >= started
    assert total(samples, last, job="breaks") == 0


async def test_a_database_that_does_not_answer_costs_a_scrape_the_timeout(pg_url: str) -> None:
    """A table locked by another session: the figures' read waits, the scrape does not."""
    engine = create_engine(pg_url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        metrics = Metrics()
        figures = DatabaseFigures(
            sessionmaker=sessionmaker,
            zone=load_settings({}).zone,
            clock=lambda: datetime.now(UTC),
            channels=["telegram"],
            timeout=0.5,
            fresh_for=0.0,
        )
        metrics.registry.register(figures)
        await figures.refresh()
        samples, _ = parse(generate_latest(metrics.registry).decode())
        assert value(samples, "citybot_metrics_database_up") == 1
        assert value(samples, "citybot_deliveries_due", channel="telegram") == 0
        async with engine.connect() as locker, locker.begin():
            await locker.exec_driver_sql("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            await figures.refresh()
            waited = time.monotonic() - started
        samples, _ = parse(generate_latest(metrics.registry).decode())
        assert 0.5 <= waited < 2.0
        assert value(samples, "citybot_metrics_database_up") == 0
        # The database figures are left out rather than shown stale.
        assert total(samples, "citybot_deliveries_due") == 0
        assert not [name for name, _ in samples if name.startswith("citybot_tickets_")]
        # And come back with the database.
        await figures.refresh()
        samples, _ = parse(generate_latest(metrics.registry).decode())
        assert value(samples, "citybot_metrics_database_up") == 1
        assert ("citybot_deliveries_due", frozenset({("channel", "telegram")})) in samples
    finally:
        await engine.dispose()


async def test_aiogram_calls_are_counted_by_method_and_outcome() -> None:
    """The bot session's middleware: a send, a 429 (with its retry_after), a resident who
    blocked the bot, a chat that does not exist."""
    metrics = Metrics()
    async with FakeTelegram(TELEGRAM_TOKEN, per_chat_rate=0.1, per_chat_burst=1) as fake:
        await open_telegram_chats(fake, [991, 992])
        fake.deactivate(992)
        bot = create_bot(TELEGRAM_TOKEN, fake.base_url, default_api_url=TELEGRAM_API_URL)
        bot.session.middleware(CountedCalls(metrics))
        try:
            await bot.send_message(991, "перше")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(991, "друге, надто швидко")
            with pytest.raises(TelegramForbiddenError):
                await bot.send_message(992, "заблокував бота")
            with pytest.raises(TelegramBadRequest):
                await bot.send_message(993, "такого чату немає")
            await bot.get_me()
        finally:
            await bot.session.close()
    samples, _ = parse(generate_latest(metrics.registry).decode())
    calls = {
        (dict(labels)["method"], dict(labels)["outcome"]): count
        for (name, labels), count in samples.items()
        if name == "citybot_api_calls_total"
    }
    assert calls == {
        ("sendMessage", "ok"): 1,
        ("sendMessage", "rate_limited"): 1,
        ("sendMessage", "blocked"): 1,
        ("sendMessage", "refused"): 1,
        ("getMe", "ok"): 1,
    }
    assert value(samples, "citybot_api_retry_after_seconds_total", channel="telegram") >= 1
