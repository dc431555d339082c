"""The load side of ``bench/ticket_webhook.py``: webhook POSTs at a fixed rate or at saturation,
and what the kernel says about the servers (CPU time, which process holds which connection).

CPU time comes from ``/proc/<pid>/stat`` (utime + stime of the server process): unlike updates/s
it does not depend on what else the shared machine is doing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

SECRET = "bench-secret-0123456789"
HEADERS = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
_TICKS = os.sysconf("SC_CLK_TCK")


def message_update(update_id: int, user_id: int, text: str) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
                "from": {"id": user_id, "is_bot": False, "first_name": "Bench"},
                "text": text,
            },
        }
    ).encode()


def with_update_id(update: dict[str, Any], update_id: int) -> bytes:
    return json.dumps({**update, "update_id": update_id}).encode()


@dataclass
class Load:
    """What one run of POSTs measured."""

    latencies_ms: list[float]
    elapsed: float
    errors: int
    # The load generator's local port of each request's connection (to find the process).
    ports: list[int] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def post_all(
    url: str,
    bodies: list[bytes],
    *,
    rate: float | None,
    concurrency: int,
    owners: dict[int, int] | None = None,
    server_port: int = 0,
    pids: tuple[int, ...] = (),
) -> Load:
    """POST every body, open loop at ``rate`` per second or closed loop with ``concurrency``
    requests in flight. With ``owners``, fills it: the load generator's port → the server
    process that accepted that connection (``pids``, listening on ``server_port``)."""
    load = Load([], 0.0, 0)
    connector = aiohttp.TCPConnector(limit=max(concurrency, 256))
    async with aiohttp.ClientSession(connector=connector) as http:
        begin = time.perf_counter()
        if rate is not None:
            # Open loop: requests leave on schedule whether or not earlier ones finished.
            tasks = []
            for index, body in enumerate(bodies):
                delay = begin + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_post(http, url, body, load)))
            await asyncio.gather(*tasks)
            load.elapsed = time.perf_counter() - begin
            return load
    queue = list(reversed(bodies))

    async def worker() -> None:
        # One connection per worker: the kernel gave it to one server process, and every
        # request of this worker went there.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as own:
            done = 0
            while queue:
                await _post(own, url, queue.pop(), load)
                done += 1
            if owners is not None:
                port = _pooled_port(own)
                found = connection_owners(server_port, pids)
                load.ports.extend([port] * done)
                owners[port] = found.get(port, 0)
            await barrier.wait()

    barrier = asyncio.Barrier(concurrency)
    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    load.elapsed = time.perf_counter() - begin
    return load


async def _post(http: aiohttp.ClientSession, url: str, body: bytes, load: Load) -> None:
    started = time.perf_counter()
    async with http.post(url, data=body, headers=HEADERS) as response:
        await response.read()
        if response.status != 200:
            load.errors += 1
    load.latencies_ms.append((time.perf_counter() - started) * 1000)


def _pooled_port(http: aiohttp.ClientSession) -> int:
    """The local port of the session's one kept-alive connection (0: none kept)."""
    connector = http.connector
    pool = getattr(connector, "_conns", {})
    for entries in pool.values():
        for entry in entries:
            transport = entry[0].transport
            if transport is not None:
                return int(transport.get_extra_info("sockname")[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` so far (``/proc/<pid>/stat``, fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its ")" do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def listening(pid: int, port: int) -> bool:
    """Whether ``pid`` holds a socket listening on ``port``."""
    return pid in _sockets(port, state="0A", pids=(pid,)).values()


def connection_owners(server_port: int, pids: tuple[int, ...]) -> dict[int, int]:
    """Established connections to ``server_port``: the client's port → the pid holding the
    server side (``/proc/net/tcp`` gives the socket inode, ``/proc/<pid>/fd`` its owner)."""
    return _sockets(server_port, state="01", pids=pids)


def _sockets(server_port: int, *, state: str, pids: tuple[int, ...]) -> dict[int, int]:
    """Sockets on ``server_port`` in ``state`` (kernel code): the remote port → the pid."""
    inode_pid: dict[str, int] = {}
    for pid in pids:
        if not Path(f"/proc/{pid}/fd").exists():
            continue  # gone
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode_pid[target[8:-1]] = pid
    owners: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            local, remote, found, inode = parts[1], parts[2], parts[3], parts[9]
            if found != state or int(local.rsplit(":", 1)[1], 16) != server_port:
                continue
            if inode in inode_pid:
                owners[int(remote.rsplit(":", 1)[1], 16)] = inode_pid[inode]
    return owners
