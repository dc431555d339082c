"""Reading what an integrator sent: the fields of ``POST requests.json`` (form-encoded as the
spec says, or a JSON object) and the query of the GET lists, each checked for type, length
and range before anything is stored; any problem is a 400 naming every bad field at once."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from bot.open311.errors import bad_request
from storage.open311 import CLOSED, LIMIT, OPEN, WINDOW, Filters, NewRequest

# The spec's own limit on a description; the rest are ours, generous for a contact centre.
LIMITS = {
    "service_code": 32,
    "description": 4000,
    "address_string": 500,
    "address_id": 64,
    "media_url": 2000,
    "device_id": 64,
    "account_id": 64,
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "phone": 32,
    "api_key": 128,
    "jurisdiction_id": 64,
}
NUMBERS = ("lat", "long")
# Control characters other than tab and line breaks (PostgreSQL refuses NUL in text).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9 ()\-]{5,32}")
# A request body larger than this is refused before it is parsed (413).
BODY_MAX = 32 * 1024
# At most this many ids in one ``service_request_id`` list.
IDS_MAX = 100
# The longest id in a path (numbers are ~15 characters, tokens 22, service codes 32).
ID_MAX = 64
# The updates feed's default window.
FEED_WINDOW = timedelta(days=1)

Raw = Mapping[str, object]


def decode_body(body: bytes, content_type: str) -> dict[str, object]:
    """The fields of a POST body: ``application/x-www-form-urlencoded`` (the spec) or a JSON
    object. A field given twice is refused rather than guessed at."""
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise bad_request("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise bad_request("the body must be a JSON object")
        return data
    if content_type not in ("application/x-www-form-urlencoded", ""):
        raise bad_request("send the fields as application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8") from None
    fields: dict[str, object] = {}
    for name, value in pairs:
        if name in fields:
            raise bad_request(f"{name} is given more than once")
        fields[name] = value
    return fields


def text_field(fields: Raw, name: str, problems: list[str]) -> str | None:
    """A text field, stripped (None when absent or empty), or a problem noted."""
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(f"{name} must be text")
        return None
    text = str(value).strip()
    if len(text) > LIMITS[name]:
        problems.append(f"{name} is longer than {LIMITS[name]} characters")
        return None
    if CONTROL.search(text):
        problems.append(f"{name} contains control characters")
        return None
    return text or None


def _number(fields: Raw, name: str, bound: float, problems: list[str]) -> float | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(f"{name} must be a number")
        return None
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{name} must be a number")
        return None
    if not math.isfinite(number) or not -bound <= number <= bound:
        problems.append(f"{name} must be between -{bound:g} and {bound:g}")
        return None
    return number


def new_request(fields: Raw) -> NewRequest:
    """The request in ``fields`` (api_key and jurisdiction_id are checked by the caller), or
    Open311Error(400) listing every problem."""
    problems: list[str] = []
    texts = {name: text_field(fields, name, problems) for name in LIMITS}
    lat = _number(fields, "lat", 90, problems)
    long = _number(fields, "long", 180, problems)
    if texts["service_code"] is None and "service_code" not in _named(problems):
        problems.append("service_code is required")
    if texts["description"] is None and "description" not in _named(problems):
        problems.append("description is required")
    if (lat is None) != (long is None) and not {"lat", "long"} & _named(problems):
        problems.append("lat and long must be given together")
    located = lat is not None or texts["address_string"] or texts["address_id"]
    if not located and not {"lat", "long", "address_string", "address_id"} & _named(problems):
        problems.append("a location is required: lat and long, or address_string")
    _check_contacts(texts, problems)
    if problems:
        raise bad_request(*problems)
    assert texts["service_code"] is not None and texts["description"] is not None
    return NewRequest(
        service_code=texts["service_code"],
        description=texts["description"],
        lat=lat,
        long=long,
        address=texts["address_string"] or texts["address_id"],
        media_url=texts["media_url"],
        device_id=texts["device_id"],
        account_id=texts["account_id"],
        first_name=texts["first_name"],
        last_name=texts["last_name"],
        email=texts["email"],
        phone=texts["phone"],
    )


def _named(problems: list[str]) -> set[str]:
    return {problem.split(" ", 1)[0] for problem in problems}


def _check_contacts(texts: Mapping[str, str | None], problems: list[str]) -> None:
    if texts["email"] and not EMAIL.fullmatch(texts["email"]):
        problems.append("email is not an e-mail address")
    if texts["phone"] and not PHONE.fullmatch(texts["phone"]):
        problems.append("phone is not a phone number")
    url = texts["media_url"]
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append("media_url must be an http or https URL")


def _moment(query: Raw, name: str, problems: list[str]) -> datetime | None:
    value = query.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{name} is not a w3c date and time (2026-12-01T00:00:00Z)")
        return None
    if moment.tzinfo is None:
        problems.append(f"{name} needs its time zone (Z or an offset such as +02:00)")
        return None
    return moment


def _codes(query: Raw, name: str, *, most: int) -> tuple[str, ...]:
    value = str(query.get(name) or "")
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))[:most]


def window(
    query: Raw, *, now: datetime, default: timedelta, problems: list[str]
) -> tuple[datetime, datetime] | None:
    """``start_date``..``end_date`` (default: the ``default`` span up to now), at most 90 days."""
    start = _moment(query, "start_date", problems)
    end = _moment(query, "end_date", problems)
    if problems:
        return None
    end = end or (start + default if start is not None and start + default < now else now)
    start = start or end - default
    if start > end:
        problems.append("start_date is after end_date")
    elif end - start > WINDOW:
        problems.append(f"start_date and end_date may not span more than {WINDOW.days} days")
    return start, end


def filters(query: Raw, *, now: datetime) -> Filters:
    """GET requests.json's query, or Open311Error(400)."""
    problems: list[str] = []
    numbers = _codes(query, "service_request_id", most=IDS_MAX + 1)
    if len(numbers) > IDS_MAX:
        problems.append(f"service_request_id lists more than {IDS_MAX} ids")
    codes = _codes(query, "service_code", most=LIMIT)
    if any(CONTROL.search(code) for code in (*numbers, *codes)):
        problems.append("service_request_id and service_code may not hold control characters")
    statuses = _codes(query, "status", most=3)
    if not set(statuses) <= {OPEN, CLOSED}:
        problems.append("status must be open, closed, or both")
    span = window(query, now=now, default=WINDOW, problems=problems)
    if problems or span is None:
        raise bad_request(*problems)
    return Filters(
        numbers=numbers,
        service_codes=codes,
        statuses=statuses,
        start=span[0],
        end=span[1],
    )


def feed_window(query: Raw, *, now: datetime) -> tuple[datetime, datetime]:
    """The updates feed's ``start_date``..``end_date`` (default: the last day)."""
    problems: list[str] = []
    span = window(query, now=now, default=FEED_WINDOW, problems=problems)
    if problems or span is None:
        raise bad_request(*problems)
    return span


def path_id(value: str) -> str | None:
    """An id from the path (a number, a token, a service code), or None when it cannot be one
    of ours: too long, or holding control characters (PostgreSQL refuses NUL)."""
    if len(value) > ID_MAX or CONTROL.search(value):
        return None
    return value
