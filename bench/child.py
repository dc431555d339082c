"""A fake messenger server in a child process, so a benchmark's bot and its fake do not share an
event loop (or a core) — one helper for every broadcast benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import AsyncIterator, Callable
from typing import Any


@contextlib.asynccontextmanager
async def served_in_child(
    target: Callable[..., None], *args: Any
) -> AsyncIterator[tuple[str, list[int]]]:
    """Run ``target(*args, conn)`` in a spawned process. The child sends its base URL, waits for
    "stop", then sends its counters (a tuple of ints): they fill the yielded list when the block
    ends."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(*args, child), daemon=True)
    process.start()
    loop = asyncio.get_running_loop()
    counters: list[int] = []
    try:
        base_url = await loop.run_in_executor(None, parent.recv)
        yield str(base_url), counters
        parent.send("stop")
        counters.extend(await loop.run_in_executor(None, parent.recv))
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
