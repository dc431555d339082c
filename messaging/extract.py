"""Which message ids the code uses: one AST walk shared by ``pybabel extract`` and the tests.

Our call forms take the key as their *first string-literal argument*: the catalog itself
(``catalog.text(lang, "key")``, ``catalog.plural(lang, "key", count)``) and the thin wrappers
around it (``self.t("key")``, ``self._t(turn, "key")``, ``notices.t(resident, "key")``, …).
Tables from a code to its msgid mark each key with ``N_("key")``; a variable named ``key`` or
``*_key`` holds one too. A conditional expression of literals (``"a" if urgent else "b"``) yields
both keys. A key built at run time (an f-string, a ``+`` or a ``.format`` passed to a call form or
assigned to such a variable) is reported by ``dynamic_keys`` so a test can refuse it.

For Babel, ``extract`` is a custom extraction method (``babel.cfg``) that yields each message in
the shape of a standard gettext call (``pgettext``/``npgettext`` when the key has a context), so
the default keyword specs apply and ``pybabel update`` keeps plural entries plural. The ``#.``
comments it adds describe the placeholders of the Ukrainian text (``PLACEHOLDERS``).
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from messaging.i18n import context_of, read_catalog
from messaging.placeholders import describe

# Method or function names whose first string-literal argument is a msgid.
CALL_FORMS = frozenset(
    {
        # The catalog's methods and the wrappers that pass a key on to them.
        "text", "t", "_t", "_text", "_menu", "_again", "_problem", "_prompt", "_button", "b",
        "button", "_terms", "_resident_block", "_ticket_block",
        # A refusal that carries the key of its message (handlers/tickets/forms.py, and the
        # sandbox page's bot/sandbox/page_input.py).
        "Invalid", "_Invalid", "BadInput", "TooLarge", "NotFound", "error_response",
        # A table entry: ``N_("key")``.
        "N_",
    }
)  # fmt: skip
PLURAL_FORMS = frozenset({"plural"})
CATALOG_METHODS = frozenset({"text", "plural"})
PACKAGES = ("bot", "handlers", "broadcasts", "messaging", "storage")


@dataclass(frozen=True, slots=True)
class Use:
    key: str
    plural: bool
    path: str
    line: int


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _literals(node: ast.expr) -> list[str] | None:
    """The keys a positional argument can be: a literal, or both arms of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        if body is not None and orelse is not None:
            return body + orelse
    return None


def _is_built(node: ast.expr) -> bool:
    """An f-string, a ``+`` of strings or a ``.format`` call: a key made at run time."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return any(
            isinstance(side, (ast.Constant, ast.JoinedStr)) for side in (node.left, node.right)
        )
    if isinstance(node, ast.IfExp):
        return _is_built(node.body) or _is_built(node.orelse)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def _receiver(call: ast.Call) -> str:
    """``catalog`` for ``self._catalog.text(...)``: the last name before the method."""
    if isinstance(call.func, ast.Attribute):
        value = call.func.value
        if isinstance(value, ast.Attribute):
            return value.attr
        if isinstance(value, ast.Name):
            return value.id
    return ""


def _calls(tree: ast.AST) -> Iterator[tuple[ast.Call, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node)
            # ``text`` is a common name (SQLAlchemy's ``text("SELECT 1")``): only a method.
            if name in CATALOG_METHODS and not isinstance(node.func, ast.Attribute):
                continue
            # The sandbox's ``_text(body, "name")`` reads a request; ours is ``self._text``.
            if name == "_text" and _receiver(node) != "self":
                continue
            if name in CALL_FORMS or name in PLURAL_FORMS:
                yield node, name


def _key_assignments(tree: ast.AST) -> Iterator[tuple[ast.expr, int]]:
    """``key = "a" if c else "b"``: a variable named ``key`` or ``*_key`` holds msgids."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and (target.id == "key" or target.id.endswith("_key")):
                yield value, node.lineno


def uses_in_source(source: str, path: str = "<string>") -> Iterator[Use]:
    tree = ast.parse(source, path)
    for value, line in _key_assignments(tree):
        for key in _literals(value) or ():
            yield Use(key, False, path, line)
    for call, name in _calls(tree):
        for argument in call.args:
            keys = _literals(argument)
            if keys is not None:
                for key in keys:
                    yield Use(key, name in PLURAL_FORMS, path, call.lineno)
                break


def dynamic_in_source(source: str, path: str = "<string>") -> Iterator[Use]:
    tree = ast.parse(source, path)
    for value, line in _key_assignments(tree):
        if _is_built(value):
            yield Use(ast.unparse(value), False, path, line)
    for call, name in _calls(tree):
        for argument in call.args:
            if _is_built(argument):
                yield Use(ast.unparse(argument), name in PLURAL_FORMS, path, call.lineno)


def _sources(root: Path, packages: Collection[str]) -> Iterator[tuple[str, str]]:
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            yield str(path.relative_to(root)), path.read_text(encoding="utf-8")


def uses(root: Path, packages: Collection[str] = PACKAGES) -> list[Use]:
    found = [
        use for path, source in _sources(root, packages) for use in uses_in_source(source, path)
    ]
    return found + template_uses(root)


# The web desk's Jinja templates call ``t("key", …)``: a literal first argument is a msgid.
TEMPLATES = ("bot/desk/templates",)
_TEMPLATE_CALL = re.compile(r"""\bt\(\s*(["'])([A-Za-z0-9_.]+)\1""")


def template_uses(root: Path, folders: Collection[str] = TEMPLATES) -> list[Use]:
    found: list[Use] = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.html")):
            source = path.read_text(encoding="utf-8")
            found += uses_in_template(source, str(path.relative_to(root)))
    return found


def uses_in_template(source: str, path: str = "<template>") -> list[Use]:
    return [
        Use(match.group(2), False, path, source.count("\n", 0, match.start()) + 1)
        for match in _TEMPLATE_CALL.finditer(source)
    ]


def dynamic_keys(root: Path, packages: Collection[str] = PACKAGES) -> list[Use]:
    return [
        use for path, source in _sources(root, packages) for use in dynamic_in_source(source, path)
    ]


def _placeholders(text: str) -> list[str]:
    seen: list[str] = []
    for _, name, _, _ in string.Formatter().parse(text):
        if name and name not in seen:
            seen.append(name)
    return seen


def extract(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> Iterator[tuple[int, str, tuple[str, ...], list[str]]]:
    """A Babel extraction method: ``babel.cfg`` names it in its ``[extractors]`` section."""
    del keywords, comment_tags
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    catalog = read_catalog("uk")
    uk = {_key(m.id): m.string for m in catalog if m.id}
    # A message the Ukrainian catalog has as plural stays plural: ``text`` picks its form from
    # ``count`` (messaging/i18n.py), so the call alone does not tell.
    plurals = {_key(m.id) for m in catalog if m.id and m.pluralizable}
    found = uses_in_template(source) if options.get("template") else uses_in_source(source)
    for use in found:
        text = uk.get(use.key)
        first = text[0] if isinstance(text, (list, tuple)) else text
        comments = [describe(name) for name in _placeholders(first or "")]
        context = context_of(use.key)
        if use.plural or use.key in plurals:
            if context is None:
                yield use.line, "ngettext", (use.key, use.key), comments
            else:
                yield use.line, "npgettext", (context, use.key, use.key), comments
        elif context is None:
            yield use.line, "gettext", (use.key,), comments
        else:
            yield use.line, "pgettext", (context, use.key), comments


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]
