"""What the sandbox page's API accepts and how it answers: JSON bodies checked field by field
(text within TEXT_MAX, numbers that are numbers), bad input as 400/404/413 with ``{"error": text}``
in the bot's language (the catalog's ``sandbox.error.*``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

JSONDict = dict[str, Any]
TEXT_MAX = 8192  # longer than either messenger allows: the stand-ins answer for their limits
# How the page's errors are worded: a catalog key and its parameters to a text (set by
# bot.sandbox.api on the web application).
Say = Callable[..., str]
SAY: web.AppKey[Say] = web.AppKey("sandbox_say")


class BadInput(Exception):
    """Something the page sent that cannot be acted on: the catalog key of what to tell the
    person, with its parameters."""

    status = 400

    def __init__(self, key: str, /, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class TooLarge(BadInput):
    """More than the page may send (a file over UPLOAD_MAX_BYTES, too many form fields)."""

    status = 413


class NotFound(BadInput):
    """A person or message the sandbox does not have."""

    status = 404


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(request: web.Request, key: str, status: int, **params: object) -> web.Response:
    return web.json_response({"error": request.app[SAY](key, **params)}, status=status)


def guard(handler: Callable[[web.Request], Awaitable[JSONDict]]) -> Route:
    """Answer JSON; bad input as 400/404/413, and what the stand-ins refuse (ValueError,
    LookupError: a client could not do that) with their reason, as the messengers give it."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return web.json_response(await handler(request))
        except BadInput as error:
            return error_response(request, error.key, error.status, **error.params)
        except LookupError as error:
            reason = str(error).strip("'\"")
            return error_response(request, "sandbox.error.refused", 404, reason=reason)
        except ValueError as error:
            return error_response(request, "sandbox.error.refused", 400, reason=str(error))

    return wrapped


async def json_body(request: web.Request) -> JSONDict:
    try:
        body = await request.json()
    # RecursionError: JSON nested deeper than Python's decoder goes.
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise BadInput("sandbox.error.not_json") from error
    if not isinstance(body, dict):
        raise BadInput("sandbox.error.not_object")
    return body


def text_of(body: JSONDict, key: str = "text") -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise BadInput("sandbox.error.not_text", label=key)
    if len(value) > TEXT_MAX:
        raise BadInput("sandbox.error.too_long", label=key, limit=TEXT_MAX)
    return value


def int_of(body: JSONDict, key: str, *, required: bool = True) -> int | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadInput("sandbox.error.not_number", label=key)
    try:
        return int(value)
    except ValueError as error:
        raise BadInput("sandbox.error.not_number", label=key) from error


def float_of(body: JSONDict, key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput("sandbox.error.not_number", label=key)
    return float(value)
