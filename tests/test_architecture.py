"""The shape of the house (DESIGN.md), checked from the source rather than by eye.

Every ``import`` of the product packages is read with ``ast`` (no module is imported, so a cycle
shows here even where Python would let it pass at run time):

- layers: ``bot`` on top; then ``handlers``; then ``broadcasts`` (the handlers may use it, never
  the other way round: DESIGN.md's picture puts the staff handlers above the delivery engine);
  then ``messaging``, the vocabulary both need (channel contract, catalogs, text markup); and
  ``storage`` at the bottom, importing nothing of the others. A module imports its own package
  or a lower one only;
- no import cycle among product modules. Imports under ``if TYPE_CHECKING:`` count, and so do
  imports inside functions: a circle that only type checkers or late imports see is still a
  circle (the issue asks for none), and counting them keeps anyone from hiding one that way;
- no messenger SDK (aiogram, viberbot) below ``bot``: the operator chat is the Telegram
  adapter's (``bot/telegram/staff/``);
- no product file over 600 lines, except today's big files, each capped at its present size.

The lists of exceptions may only shrink: an entry that is no longer needed fails the test too,
so that whoever splits a file or moves an import also removes its entry.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]

# Higher imports lower, never the reverse; equal rank is the same package.
LAYERS: Final = {"bot": 4, "handlers": 3, "broadcasts": 2, "messaging": 1, "storage": 0}
SDKS: Final = frozenset({"aiogram", "viberbot"})
MAX_LINES: Final = 600

# Files allowed over the limit, each with its size as a ceiling (they may shrink, not grow).
# None today: issue 14 split the last ones; a new entry needs a reason beside it.
KNOWN_BIG_FILES: Final[dict[str, int]] = {}


@dataclass(frozen=True, slots=True)
class Module:
    name: str  # dotted, e.g. "bot.telegram.staff.desk"
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def product_modules(root: Path = ROOT) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package in LAYERS:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            modules[name] = Module(name=name, path=path, tree=tree)
    return modules


def imported_names(module: Module) -> Iterator[tuple[str, int]]:
    """Every name ``module`` imports, dotted and absolute, with its line: ``import a.b`` gives
    ``a.b``; ``from a import b`` gives ``a.b`` (a submodule, or a name defined in ``a``) and
    ``a``; relative imports are resolved against the module's package."""
    is_package = module.path.name == "__init__.py"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".") if is_package else module.name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            yield source, node.lineno
            for alias in node.names:
                yield f"{source}.{alias.name}", node.lineno


def import_graph(modules: dict[str, Module]) -> dict[str, dict[str, int]]:
    """Module → the product modules it imports (→ the first line doing so)."""

    def resolve(name: str) -> str | None:
        # The longest prefix that is a module: "storage.models.Ticket" is "storage.models".
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for module in modules.values():
        for name, line in imported_names(module):
            target = resolve(name)
            if target is not None and target != module.name:
                graph[module.name].setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


MODULES: Final = product_modules()
GRAPH: Final = import_graph(MODULES)


def test_the_checks_see_the_product() -> None:
    # Guards against a check that passes because it reads nothing.
    assert {module.package for module in MODULES.values()} == set(LAYERS)
    assert len(MODULES) > 100
    assert "handlers.owed" in GRAPH["handlers.pipeline"]
    assert "storage.models" in GRAPH["storage.tickets"]


def test_no_import_cycles() -> None:
    found = cycles(GRAPH)
    details = [
        " ↔ ".join(component)
        + ": "
        + "; ".join(
            f"{source} imports {target} (line {GRAPH[source][target]})"
            for source in component
            for target in GRAPH[source]
            if target in component
        )
        for component in found
    ]
    assert not found, "import cycles:\n" + "\n".join(details)


def test_no_import_from_a_higher_layer() -> None:
    upward = sorted(
        f"{MODULES[source].relative}:{line} imports {target}"
        for source, targets in GRAPH.items()
        for target, line in targets.items()
        if LAYERS[target.split(".", 1)[0]] > LAYERS[MODULES[source].package]
    )
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def sdk_imports(module: Module) -> list[str]:
    return sorted(
        {
            f"{module.relative}:{line} imports {root}"
            for name, line in imported_names(module)
            if (root := name.split(".", 1)[0]) in SDKS
        }
    )


def test_no_messenger_sdk_below_the_adapters() -> None:
    offending = [
        found
        for module in MODULES.values()
        if module.package != "bot"
        for found in sdk_imports(module)
    ]
    assert not offending, "messenger SDK imported outside bot/:\n" + "\n".join(offending)
    # The check reads the adapters too (guards against one that passes because it sees none).
    assert any(sdk_imports(module) for module in MODULES.values() if module.package == "bot")


def test_no_product_file_over_the_limit() -> None:
    sizes = {
        module.relative: len(module.path.read_text(encoding="utf-8").splitlines())
        for module in MODULES.values()
    }
    too_big = sorted(
        f"{path}: {size} lines (limit {KNOWN_BIG_FILES.get(path, MAX_LINES)})"
        for path, size in sizes.items()
        if size > KNOWN_BIG_FILES.get(path, MAX_LINES)
    )
    assert not too_big, "files over their limit:\n" + "\n".join(too_big)
    stale = sorted(
        path for path in KNOWN_BIG_FILES if path not in sizes or sizes[path] <= MAX_LINES
    )
    assert not stale, f"now within {MAX_LINES} lines, remove from KNOWN_BIG_FILES: {stale}"
