"""Errors and the small value types of the fake Telegram server (what tests inspect)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot.sandbox.fakes.telegram.constants import JSON

# --------------------------------------------------------------------------------------
# Errors and small value types
# --------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer; the HTTP status always equals ``error_code`` like on the real server."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        out: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def forbidden_error(message: str) -> ApiError:
    return ApiError(403, f"Forbidden: {message}")


def entities_error(message: str) -> ApiError:
    return bad_request(f"can't parse entities: {message}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part received in a multipart request."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


class Call(NamedTuple):
    """One API call as the server saw it; params are decoded (ints, bools, JSON objects)."""

    method: str
    params: JSON


@dataclass(frozen=True)
class ApiErrorRecord:
    """An API call that was answered with an error."""

    method: str
    params: JSON
    error_code: int
    description: str


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to POST an update to the webhook; ``status`` 0 means no HTTP answer."""

    update_id: int
    status: int
    error: str | None
    attempt: int


class SimUpdate(dict[str, Any]):
    """The Update a simulation method produced, plus what happened to it.

    It is a plain dict (the Update exactly as Telegram would send it) with two
    extra attributes, so tests can both inspect the update and check delivery:

    * ``status``: HTTP status the webhook answered (0 when it could not be
      reached or timed out), ``None`` when no webhook was set (the update waits
      for getUpdates) or the update was filtered out.
    * ``filtered``: True when the bot's ``allowed_updates`` excludes this update
      type, so Telegram would never have sent it.
    """

    def __init__(self, update: Mapping[str, Any]) -> None:
        super().__init__(update)
        self.status: int | None = None
        self.filtered = False


class Described(NamedTuple):
    """A successful result that also carries a ``description`` (setWebhook does this)."""

    result: Any
    description: str
