"""CPU seconds of the processes a benchmark involves, from ``/proc/<pid>/stat`` (Linux): robust on
a machine shared with other jobs, where rates are not. Used by the broadcast benchmarks to say
where the time of a broadcast goes: the engine's process, the fake messenger's, and the
PostgreSQL backends serving the benchmark's database."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far; 0.0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL server processes connected to ``database`` (by their process title)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                title = cmdline.read()
        except OSError:
            continue
        if title.startswith(b"postgres:") and f" {database} ".encode() in title:
            pids.append(int(entry))
    return pids


@dataclass
class CpuWatch:
    """CPU used from ``start`` on by ``pids`` and by the backends of ``database`` (sampled: a
    backend may come and go while the benchmark runs; its last reading counts)."""

    pids: dict[str, int]
    database: str
    _start: dict[str, float] = field(default_factory=dict)
    _backends: dict[int, tuple[float, float]] = field(default_factory=dict)

    def sample(self) -> None:
        for pid in postgres_backends(self.database):
            first, _ = self._backends.get(pid, (cpu_seconds(pid), 0.0))
            self._backends[pid] = (first, cpu_seconds(pid))

    def start(self) -> None:
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._backends.clear()
        self.sample()

    def used(self) -> dict[str, float]:
        self.sample()
        used = {name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}
        used["postgres"] = sum(last - first for first, last in self._backends.values())
        return used


@contextlib.asynccontextmanager
async def watching(watch: CpuWatch, every: float = 0.25) -> AsyncIterator[CpuWatch]:
    """Start ``watch`` and sample the database's backends every ``every`` seconds."""

    async def sampler() -> None:
        while True:
            await asyncio.sleep(every)
            watch.sample()

    watch.start()
    task = asyncio.create_task(sampler())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
