"""Keeps aiogram's parsed-response models alive.

aiogram validates every Bot API answer with ``Response[<method's result type>]``, a pydantic
generic model. pydantic caches parametrized generics weakly, so unless something holds on to
``Response[Message]`` the class is rebuilt (schema and all) on nearly every call and collected
again: about a tenth of the CPU of a paid-mode broadcast in a py-spy profile. Creating each
method's model once and keeping it makes every later ``Response[T]`` a cache hit.
"""

from __future__ import annotations

import inspect
from typing import Any

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod

_PINNED: dict[Any, type[Any]] = {}


def pin_response_models() -> int:
    """Create (once) and keep ``Response[T]`` for every Bot API method; returns how many."""
    if not _PINNED:
        for _, method in inspect.getmembers(methods, inspect.isclass):
            if issubclass(method, TelegramMethod) and method is not TelegramMethod:
                returning = getattr(method, "__returning__", None)
                if returning is not None and returning not in _PINNED:
                    _PINNED[returning] = Response[returning]  # type: ignore[valid-type]
    return len(_PINNED)
