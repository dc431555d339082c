"""What ``GET /metrics`` shows that the process itself counts: updates handled, outgoing API
calls, scheduled jobs, and the process (prometheus-client's process and platform collectors).

One ``Metrics`` per application, each with its own ``CollectorRegistry`` (never the global one:
tests run several applications in one process). The instruments are called on the hot path, so
each call is a dictionary look-up of a label set resolved once and an increment: a few
microseconds per update. No label carries a resident, a chat, a ticket or any text; the label
values are fixed sets (channels, kinds, outcomes, Bot API method names, job names), and anything
outside them is counted as ``other``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from bot import __version__
from bot.channel_health import ChannelHealth
from messaging.contract import (
    CredentialsRefused,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
)

NAMESPACE: Final = "citybot"
# Handling an update: a follow-up takes a few milliseconds, a slow database seconds.
HANDLING_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Outcomes of an outgoing call.
OK: Final = "ok"
RATE_LIMITED: Final = "rate_limited"
BLOCKED: Final = "blocked"
REFUSED: Final = "refused"
ERROR: Final = "error"
OTHER: Final = "other"
# A method or job name that could be a label value: a short identifier, nothing else.
_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_:-]{0,47}$")


def outcome_of(error: BaseException | None) -> str:
    """An outgoing call's outcome from what it raised (None: it succeeded)."""
    if error is None:
        return OK
    if isinstance(error, CredentialsRefused):
        return REFUSED
    if isinstance(error, RateLimited):
        return RATE_LIMITED
    if isinstance(error, RecipientBlocked):
        return BLOCKED
    if isinstance(error, PermanentChannelError):
        return REFUSED
    # Transient channel errors, network errors, timeouts, anything unexpected.
    return ERROR


def bounded(name: str) -> str:
    """``name`` as a label value if it looks like an identifier, else ``other``."""
    return name if _NAME.match(name) else OTHER


# An update label set's counter, failure counter and histogram, resolved once.
_Children = tuple[Callable[[], None], Callable[[], None], Callable[[float], None]]


class Handling:
    """Counts and times one update, as a context manager (``Metrics.handling`` makes one per
    update); an exception leaving it is counted as a failure and passed on."""

    __slots__ = ("_done", "_failed", "_seconds", "_started")

    def __init__(
        self, done: Callable[[], None], failed: Callable[[], None], seconds: Callable[[float], None]
    ) -> None:
        self._done = done
        self._failed = failed
        self._seconds = seconds
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._seconds(time.perf_counter() - self._started)
        self._done()
        if error is not None:
            self._failed()


class Metrics:
    """The application's registry and the instruments the process updates itself."""

    def __init__(self) -> None:
        # No ``*_created`` series beside every counter and histogram: they double the series
        # for a start time that process_start_time_seconds already gives (a library switch).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        Info("build", "The running citybot version.", namespace=NAMESPACE, registry=registry).info(
            {"version": __version__}
        )
        self._updates = Counter(
            "updates",
            "Incoming updates handled, by channel and kind (message, callback, ...).",
            ["channel", "kind"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._update_failures = Counter(
            "update_failures",
            "Incoming updates whose handling raised (the messenger delivers them again).",
            ["channel", "kind"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._handling = Histogram(
            "update_handling_seconds",
            "Time from an update's arrival to its answer (stored; replies may follow).",
            ["channel", "kind"],
            namespace=NAMESPACE,
            registry=registry,
            buckets=HANDLING_BUCKETS,
        )
        self._calls = Counter(
            "api_calls",
            "Calls to the messengers' APIs, by channel, method and outcome "
            "(ok, rate_limited, blocked, refused, error).",
            ["channel", "method", "outcome"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._retry_after = Counter(
            "api_retry_after_seconds",
            "Seconds the messengers asked this process to wait (429 retry_after), summed.",
            ["channel"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._job_runs = Counter(
            "job_runs",
            "Scheduled job runs in this process, by job and outcome (ok, failed, missed).",
            ["job", "outcome"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._job_success = Gauge(
            "job_last_success_timestamp_seconds",
            "When each scheduled job last ran to the end in this process (Unix time).",
            ["job"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._token_refused = Gauge(
            "channel_token_refused",
            "1 while a messenger refuses the bot's token (revoked or changed), else 0.",
            ["channel"],
            namespace=NAMESPACE,
            registry=registry,
        )
        # Which messengers refuse the token now: logged once, and /healthz answers 503.
        self.health = ChannelHealth()
        # Label sets resolved once: the hot path looks them up in a plain dict.
        self._handlings: dict[tuple[str, str], _Children] = {}
        self._call_children: dict[tuple[str, str, str], Callable[[], None]] = {}

    # -- updates ---------------------------------------------------------------------------

    def handling(self, channel: str, kind: str) -> Handling:
        """Count and time one update: ``with metrics.handling("telegram", "message"): ...``."""
        children = self._handlings.get((channel, kind))
        if children is None:
            children = (
                self._updates.labels(channel, kind).inc,
                self._update_failures.labels(channel, kind).inc,
                self._handling.labels(channel, kind).observe,
            )
            self._handlings[(channel, kind)] = children
        return Handling(*children)

    # -- outgoing calls --------------------------------------------------------------------

    def call(self, channel: str, method: str, outcome: str = OK) -> None:
        """One outgoing API call and how it ended."""
        key = (channel, method, outcome)
        increment = self._call_children.get(key)
        if increment is None:
            increment = self._calls.labels(channel, bounded(method), outcome).inc
            self._call_children[key] = increment
        increment()
        if outcome == OK and self.health.refusing:
            self.health.accepted(channel)
            self._token_refused.labels(channel).set(0)

    def call_failed(self, channel: str, method: str, error: BaseException) -> None:
        """An outgoing call that raised ``error``; a 429 adds its retry_after."""
        self.call(channel, method, outcome_of(error))
        if isinstance(error, RateLimited):
            self.retry_after(channel, error.retry_after)
        elif isinstance(error, CredentialsRefused):
            self.token_refused(channel)

    def token_refused(self, channel: str) -> None:
        """The messenger refused the bot's own token (Telegram 401, Viber status 2)."""
        self.health.refused(channel)
        self._token_refused.labels(channel).set(1)

    def retry_after(self, channel: str, seconds: float) -> None:
        self._retry_after.labels(channel).inc(max(0.0, seconds))

    # -- scheduled jobs --------------------------------------------------------------------

    def job_ran(self, job: str, *, ok: bool) -> None:
        name = bounded(job)
        self._job_runs.labels(name, "ok" if ok else "failed").inc()
        if ok:
            self._job_success.labels(name).set(time.time())

    def job_missed(self, job: str) -> None:
        self._job_runs.labels(bounded(job), "missed").inc()
