"""What the sandbox page's API accepts and how it answers: JSON bodies checked field by field
(text within TEXT_MAX, numbers that are numbers), bad input as 400/404/413 with ``{"error": text}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

JSONDict = dict[str, Any]
TEXT_MAX = 8192  # longer than either messenger allows: the stand-ins answer for their limits


class BadInput(Exception):
    """Something the page sent that cannot be acted on; shown to the person as is."""

    status = 400


class TooLarge(BadInput):
    """More than the page may send (a file over UPLOAD_MAX_BYTES, too many form fields)."""

    status = 413


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(handler: Callable[[web.Request], Awaitable[JSONDict]]) -> Route:
    """Answer JSON; bad input (ours or the stand-ins' ValueError/LookupError) as 400/404."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return web.json_response(await handler(request))
        except BadInput as error:
            return web.json_response({"error": str(error)}, status=error.status)
        except LookupError as error:
            return web.json_response({"error": str(error).strip("'\"")}, status=404)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)

    return wrapped


async def json_body(request: web.Request) -> JSONDict:
    try:
        body = await request.json()
    # RecursionError: JSON nested deeper than Python's decoder goes.
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise BadInput("the request body is not JSON") from error
    if not isinstance(body, dict):
        raise BadInput("the request body must be a JSON object")
    return body


def text_of(body: JSONDict, key: str = "text") -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise BadInput(f"{key} must be text")
    if len(value) > TEXT_MAX:
        raise BadInput(f"{key} is longer than {TEXT_MAX} characters")
    return value


def int_of(body: JSONDict, key: str, *, required: bool = True) -> int | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadInput(f"{key} must be a number")
    try:
        return int(value)
    except ValueError as error:
        raise BadInput(f"{key} must be a number") from error


def float_of(body: JSONDict, key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{key} must be a number")
    return float(value)
