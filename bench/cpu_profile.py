"""A server under cProfile with CPU time as its clock (a wall clock would count the time the
process waited for a core on a shared machine), and the breakdown of a profile by package.

    python -m bench.cpu_profile run OUT MODULE [ARGS...]   # e.g. OUT bot.cli run
    python -m bench.cpu_profile report OUT [UPDATES]
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import time
from collections import defaultdict


def run(out: str, module: str, args: list[str]) -> None:
    sys.argv = [module, *args]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    for ours in ("bot/", "handlers/", "storage/", "messaging/", "broadcasts/"):
        if f"/{ours}" in filename:
            return "citybot " + ours.rstrip("/")
    if "python3." in filename:
        return "stdlib " + filename.rsplit("/", 1)[-1]
    return filename if filename.startswith("<") else "other"


def report(out: str, updates: int) -> None:
    """CPU seconds by package (own time of its functions), and per update."""
    stats = pstats.Stats(out)
    by_package: defaultdict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, own, _cum, _callers) in raw.items():
        key = f"builtin {name}" if filename == "~" else _package(filename)
        by_package[key] += own
    total = sum(by_package.values())
    print(f"total {total:.2f} s CPU under the profiler")
    for key, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:25]:
        per = f"  {1000 * seconds / updates:6.2f} ms/update" if updates else ""
        print(f"{seconds:8.2f} s {100 * seconds / total:5.1f}%{per}  {key}")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        report(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
