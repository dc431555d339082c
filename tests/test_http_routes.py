"""Every HTTP route, probed unauthenticated, malformed and oversized over a real socket.

``ROUTES`` lists every route the product's aiohttp application and the sandbox's register, with
its probes; ``test_every_route_has_probes_of_each_kind`` enumerates ``app.router.routes()`` and
fails when a route is added without an entry (HEAD is aiohttp's automatic twin of each GET and
is covered by it). Requests are written as raw bytes, so headers that are not UTF-8 and bodies
over the limit reach the server as an attacker would send them.

- Product: ``POST /telegram/webhook`` (secret header), ``POST /viber/webhook`` (HMAC of the
  body), ``GET /media/{token}`` (signed links to staff files), ``GET /healthz`` (public by
  design: it tells only whether the database answers, the channels and the version),
  ``GET /metrics`` (a bearer token, CITYBOT_METRICS_TOKEN; 404 without one configured),
  ``/open311/v2/…`` (Open311 GeoReport v2: reading public by the spec, posting with an
  integrator's ``api_key``; bodies over ``bot.open311.fields.BODY_MAX`` are 413),
  ``GET /consultations/report/{token}.pdf`` (a closed consultation's report: public by an
  unguessable token, 404 otherwise).
- Sandbox page (``bot/sandbox/api.py``): no login by design (loopback only unless warned);
  "unauthenticated" means another web site (``Origin``) or another host name (DNS rebinding),
  both refused with 403 before any handler runs.
- Oversized: a body over ``bot.web.MAX_BODY`` (the app's ``client_max_size``) is 413 without
  being processed; the sandbox's uploads have their own limit (``UPLOAD_MAX_BYTES``, 413); a
  request line or header over aiohttp's 8 KiB is refused by the parser (400).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.app import build_runtime
from bot.sandbox.api import UPLOAD_MAX_BYTES, SandboxApi
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.sandbox.run import SandboxOptions, sandbox_settings, stand_ins
from bot.sandbox.world import World
from bot.viber.channel import signature
from bot.web import MAX_BODY
from storage.models import AuditEntry, ProcessedUpdate, Resident
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, WEBHOOK_SECRET, bot_settings, running_bot
from tests.sandbox_client import running_sandbox

pytestmark = pytest.mark.migrated_database

Kind = Literal["unauthenticated", "malformed", "oversized"]
KINDS: tuple[Kind, ...] = ("unauthenticated", "malformed", "oversized")
FORBIDDEN = frozenset({403})
# A forged or unsigned /media link: 404 today (a link that is not ours does not exist). Another
# change may make it 403; either refuses without asking Telegram anything.
MEDIA_REFUSED = frozenset({403, 404})
CLIENT_ERROR = frozenset(range(400, 500))
# aiohttp's parser refuses a request line or a header field longer than 8190 bytes.
OVER_LINE = 9000
NOT_UTF8 = b"\xff\xfe\xfa"
NON_ASCII = "секрет".encode()
METRICS_TOKEN = "probe-metrics-Token_0123456789"
# Valid JSON up to the depth Python's decoder gives up at (RecursionError, not ValueError).
DEEP = b"[" * 100_000 + b"]" * 100_000


def status(*codes: int) -> frozenset[int]:
    return frozenset(codes)


@dataclass(frozen=True)
class Probe:
    kind: Kind
    what: str
    method: str
    target: bytes
    expect: frozenset[int]
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""


@dataclass
class Context:
    """What the probes need to know about the running server."""

    port: int
    telegram_secret: str = WEBHOOK_SECRET
    viber_token: str = VIBER_TOKEN
    telegram_resident: str = "0"
    viber_resident: str = ""
    # Signed Viber callbacks the server answered 200 and recorded as refused.
    refused: list[str] = field(default_factory=list)


ProbeMaker = Callable[[Context], list[Probe]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    app: Literal["product", "sandbox"]
    probes: ProbeMaker


JSON = ((b"Content-Type", b"application/json"),)


def _post(
    kind: Kind,
    what: str,
    path: str,
    expect: frozenset[int],
    body: bytes,
    *headers: tuple[bytes, bytes],
) -> Probe:
    return Probe(kind, what, "POST", path.encode(), expect, (*JSON, *headers), body)


def _get(
    kind: Kind,
    what: str,
    target: bytes | str,
    expect: frozenset[int],
    *headers: tuple[bytes, bytes],
) -> Probe:
    raw = target.encode() if isinstance(target, str) else target
    return Probe(kind, what, "GET", raw, expect, headers)


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- the product --------------------------------------------------------------------------------


def _telegram_update() -> bytes:
    """An administrator's /stats in a group: what the hostile tester sent unsigned."""
    return json.dumps(
        {
            "update_id": 4_242,
            "message": {
                "message_id": 1,
                "date": 1_780_000_000,
                "chat": {"id": -1001500000001, "type": "supergroup", "title": "Звернення"},
                "from": {"id": 7001, "is_bot": False, "first_name": "Ірина"},
                "text": "/stats",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
    ).encode()


def telegram_webhook(ctx: Context) -> list[Probe]:
    path = "/telegram/webhook"
    header = b"X-Telegram-Bot-Api-Secret-Token"
    secret = (header, ctx.telegram_secret.encode())
    update = _telegram_update()
    big = b'{"update_id": 1, "x": "' + b"a" * MAX_BODY + b'"}'
    return [
        _post("unauthenticated", "no secret", path, FORBIDDEN, update),
        _post("unauthenticated", "wrong secret", path, FORBIDDEN, update, (header, b"guess")),
        _post("unauthenticated", "empty secret", path, FORBIDDEN, update, (header, b"")),
        _post(
            "unauthenticated",
            "the secret less its last character",
            path,
            FORBIDDEN,
            update,
            (header, ctx.telegram_secret[:-1].encode()),
        ),
        _post("unauthenticated", "secret not UTF-8", path, FORBIDDEN, update, (header, NOT_UTF8)),
        _post("unauthenticated", "secret not ASCII", path, FORBIDDEN, update, (header, NON_ASCII)),
        _post("malformed", "not JSON", path, status(400), b"{not json", secret),
        _post("malformed", "not UTF-8", path, status(400), NOT_UTF8, secret),
        _post("malformed", "a JSON array", path, status(400), b"[]", secret),
        _post("malformed", "update_id is text", path, status(400), b'{"update_id": "x"}', secret),
        _post("malformed", "nested too deep", path, status(400), DEEP, secret),
        _post("oversized", "over MAX_BODY, signed", path, status(413), big, secret),
        # Without the secret the body is never read: refused as unauthenticated.
        _post("oversized", "over MAX_BODY, unsigned", path, FORBIDDEN, big),
    ]


def viber_webhook(ctx: Context) -> list[Probe]:
    path = "/viber/webhook"
    header = b"X-Viber-Content-Signature"
    event = {
        "event": "message",
        "timestamp": _now_ms(),
        "message_token": 4_243,
        "sender": {"id": "prober==", "name": "Мелорі"},
        "message": {"type": "text", "text": "/start"},
    }
    body = json.dumps(event).encode()

    def signed(payload: bytes) -> tuple[bytes, bytes]:
        return (header, signature(ctx.viber_token, payload).encode())

    number = json.dumps({**event, "message": {"type": "text", "text": 5}}).encode()
    big = b'{"event": "webhook", "x": "' + b"a" * MAX_BODY + b'"}'
    ctx.refused += ["not JSON", "message.text is not text", "not JSON"]
    return [
        _post("unauthenticated", "no signature", path, FORBIDDEN, body),
        _post("unauthenticated", "zeros", path, FORBIDDEN, body, (header, b"0" * 64)),
        _post(
            "unauthenticated",
            "another body's signature",
            path,
            FORBIDDEN,
            body,
            signed(body + b" "),
        ),
        _post("unauthenticated", "signature not UTF-8", path, FORBIDDEN, body, (header, NOT_UTF8)),
        _post("unauthenticated", "signature not ASCII", path, FORBIDDEN, body, (header, NON_ASCII)),
        # Signed, so Viber's: answered 200 (never redelivered) and recorded as refused.
        _post("malformed", "signed, not JSON", path, status(200), b"not json", signed(b"not json")),
        _post("malformed", "signed, text a number", path, status(200), number, signed(number)),
        _post("malformed", "signed, nested too deep", path, status(200), DEEP, signed(DEEP)),
        _post("oversized", "over MAX_BODY, signed", path, status(413), big, signed(big)),
        _post("oversized", "over MAX_BODY, unsigned", path, status(413), big),
    ]


def healthz(_ctx: Context) -> list[Probe]:
    return [
        # Public by design (load balancers): the answer holds no secret (checked below).
        _get("unauthenticated", "anyone", "/healthz", status(200)),
        _get("malformed", "junk query", b"/healthz?%ff%fe=%00&&=", status(200)),
        _get("malformed", "junk header", "/healthz", status(200), (b"X-Junk", NOT_UTF8)),
        Probe("malformed", "POST", "POST", b"/healthz", status(405), JSON, b"{}"),
        _get("oversized", "a long path", "/healthz?" + "a" * OVER_LINE, status(400)),
        _get("oversized", "a long header", "/healthz", status(400), (b"X-Big", b"a" * OVER_LINE)),
        _get(
            "oversized",
            "too many headers",
            "/healthz",
            status(400),
            *((f"X-H{i}".encode(), b"a") for i in range(200)),
        ),
    ]


def metrics(_ctx: Context) -> list[Probe]:
    # Behind a bearer token (CITYBOT_METRICS_TOKEN, set for these probes): 401 without it.
    bearer = b"Authorization"
    return [
        _get("unauthenticated", "no token", "/metrics", status(401)),
        _get("unauthenticated", "a wrong token", "/metrics", status(401), (bearer, b"Bearer no")),
        _get(
            "unauthenticated",
            "the token as Basic",
            "/metrics",
            status(401),
            (bearer, b"Basic " + METRICS_TOKEN.encode()),
        ),
        _get(
            "unauthenticated",
            "the token with one more character",
            "/metrics",
            status(401),
            (bearer, b"Bearer " + METRICS_TOKEN.encode() + b"x"),
        ),
        _get("malformed", "not UTF-8", "/metrics", status(401), (bearer, b"Bearer " + NOT_UTF8)),
        _get("malformed", "non-ASCII", "/metrics", status(401), (bearer, b"Bearer " + NON_ASCII)),
        _get("malformed", "Bearer alone", "/metrics", status(401), (bearer, b"Bearer")),
        Probe("malformed", "POST", "POST", b"/metrics", status(405), JSON, b"{}"),
        _get("oversized", "a long path", "/metrics?" + "a" * OVER_LINE, status(400)),
        _get("oversized", "a long token", "/metrics", status(400), (bearer, b"a" * OVER_LINE)),
    ]


def media(_ctx: Context) -> list[Probe]:
    # A file_id in the link's encoding, without a signature and with a forged one.
    file_id = "QWdBQ0FnSUFBeGtCQUFJQg"
    return [
        _get("unauthenticated", "no signature", f"/media/{file_id}", MEDIA_REFUSED),
        _get(
            "unauthenticated",
            "a forged signature",
            f"/media/{file_id}.AAAAAAAAAAAAAAAAAAAAAA",
            MEDIA_REFUSED,
        ),
        _get(
            "unauthenticated",
            "a forged expiry and signature",
            f"/media/{file_id}.9999999999.AAAA",
            MEDIA_REFUSED,
        ),
        _get("malformed", "not base64", b"/media/%ff%fe.%00", MEDIA_REFUSED | status(400)),
        _get("malformed", "dots only", "/media/...", MEDIA_REFUSED),
        _get("oversized", "a long token", "/media/" + "A" * 4000 + ".AAAA", MEDIA_REFUSED),
        _get("oversized", "over the request line", "/media/" + "A" * OVER_LINE, CLIENT_ERROR),
    ]


# -- Open311 GeoReport v2 (bot/open311/; tests/test_open311.py has the spec's cases) ---------------

O311 = "/open311/v2"


def _open311_get(
    path: str, public: int, malformed: tuple[str, bytes | str, int], long: int
) -> ProbeMaker:
    """A read of the API: public by the spec (``public`` is its answer to anyone), with one
    malformed request, an over-long id or query (``long``) and a request line over the limit."""
    what, target, code = malformed
    return lambda _ctx: [
        _get("unauthenticated", "anyone (public by the spec)", O311 + path, status(public)),
        _get("malformed", what, target, status(code)),
        _get("malformed", "an unknown format", O311 + path.replace(".json", ".csv"), status(404)),
        _get("oversized", "a long id or query", _long(path), status(long)),
        _get(
            "oversized", "over the request line", O311 + path + "?" + "a" * OVER_LINE, status(400)
        ),
    ]


def _long(path: str) -> str:
    if "/" in path.strip("/"):
        head, _ = path.rsplit("/", 1)
        return f"{O311}{head}/{'a' * 4000}.json"
    return f"{O311}{path}?service_request_id={','.join(f'n{i}' for i in range(500))}"


def open311_post(_ctx: Context) -> list[Probe]:
    path = O311 + "/requests.json"
    form = ((b"Content-Type", b"application/x-www-form-urlencoded"),)
    fields = b"service_code=housing&description=x&lat=47.9&long=33.4"
    return [
        Probe("unauthenticated", "no api_key", "POST", path.encode(), status(400), form, fields),
        Probe(
            "unauthenticated",
            "a wrong api_key",
            "POST",
            path.encode(),
            FORBIDDEN,
            form,
            fields + b"&api_key=guess",
        ),
        Probe(
            "unauthenticated",
            "api_key not UTF-8",
            "POST",
            path.encode(),
            status(400, 403),
            form,
            fields + b"&api_key=%ff%fe",
        ),
        _post("malformed", "not JSON", path, status(400), b"{not json"),
        _post("malformed", "a JSON array", path, status(400), b"[]"),
        _post("malformed", "api_key a number", path, FORBIDDEN, b'{"api_key": 5}'),
        _post("malformed", "nested too deep", path, status(400, 413), DEEP),
        _post("oversized", "over the API's limit", path, status(413), b"{" + b" " * 40_000 + b"}"),
        _post(
            "oversized", "over MAX_BODY", path, status(413), b'{"x": "' + b"a" * MAX_BODY + b'"}'
        ),
    ]


OPEN311_ROUTES: list[Route] = [
    Route(
        "GET",
        O311 + "/services.{fmt}",
        "product",
        _open311_get(
            "/services.json", 200, ("junk query", "/open311/v2/services.json?%ff=%00", 200), 200
        ),
    ),
    Route(
        "GET",
        O311 + "/services/{code}.{fmt}",
        "product",
        _open311_get(
            "/services/potholes.json",
            404,
            ("a NUL code", "/open311/v2/services/%00.json", 404),
            404,
        ),
    ),
    Route(
        "GET",
        O311 + "/requests.{fmt}",
        "product",
        _open311_get(
            "/requests.json",
            200,
            ("a junk date", "/open311/v2/requests.json?start_date=%00", 400),
            400,
        ),
    ),
    Route("POST", O311 + "/requests.{fmt}", "product", open311_post),
    Route(
        "GET",
        O311 + "/requests/{id}.{fmt}",
        "product",
        _open311_get(
            "/requests/%D0%92%D0%94-2026-000001.json",  # ВД-2026-000001
            404,
            ("not UTF-8", b"/open311/v2/requests/%ff%fe%00.json", 404),
            404,
        ),
    ),
    Route(
        "GET",
        O311 + "/tokens/{token}.{fmt}",
        "product",
        _open311_get(
            "/tokens/nope.json", 404, ("a NUL token", "/open311/v2/tokens/%00.json", 404), 404
        ),
    ),
    Route(
        "GET",
        O311 + "/servicerequestupdates.{fmt}",
        "product",
        _open311_get(
            "/servicerequestupdates.json",
            200,
            ("a naive date", "/open311/v2/servicerequestupdates.json?start_date=2026-01-01", 400),
            200,
        ),
    ),
]


# -- the sandbox page ---------------------------------------------------------------------------

EVIL_ORIGIN = (b"Origin", b"https://evil.example")


def _evil_host(ctx: Context) -> tuple[bytes, bytes]:
    return (b"Host", f"evil.example:{ctx.port}".encode())


def _page(
    method: str,
    path: str,
    *,
    malformed: Callable[[Context], list[tuple[str, bytes | str, frozenset[int], bytes]]],
    oversized: Callable[[Context], list[Probe]] | None = None,
) -> ProbeMaker:
    """The probes of a page route: other sites and host names refused, then its own."""

    def make(ctx: Context) -> list[Probe]:
        target = path.format(
            chat_id=ctx.telegram_resident,
            file_id="nope",
            user_id=ctx.viber_resident,
            name="app.js",
            upload_id="1",
        )
        body = b"{}" if method == "POST" else b""
        content = JSON if method == "POST" else ()
        probes = [
            Probe(
                "unauthenticated",
                "another site",
                method,
                target.encode(),
                FORBIDDEN,
                (*content, EVIL_ORIGIN),
                body,
            ),
            Probe(
                "unauthenticated",
                "another host name",
                method,
                target.encode(),
                FORBIDDEN,
                (*content, _evil_host(ctx)),
                body,
            ),
        ]
        for what, raw_target, expect, raw_body in malformed(ctx):
            encoded = raw_target.encode() if isinstance(raw_target, str) else raw_target
            probes.append(Probe("malformed", what, method, encoded, expect, content, raw_body))
        if oversized is not None:
            probes += oversized(ctx)
        elif method == "POST":
            big = b'{"x": "' + b"a" * MAX_BODY + b'"}'
            probes.append(
                Probe("oversized", "over MAX_BODY", method, target.encode(), status(413), JSON, big)
            )
        else:
            probes.append(
                Probe(
                    "oversized",
                    "over the request line",
                    method,
                    (target + "?" + "a" * OVER_LINE).encode(),
                    status(400),
                )
            )
        return probes

    return make


def _no_input(
    path: str,
) -> Callable[[Context], list[tuple[str, bytes | str, frozenset[int], bytes]]]:
    """A route that takes no input: junk in the query is ignored."""
    return lambda _ctx: [("junk query", path + "?%ff%fe=%00&&=", status(200), b"")]


def _json(
    path: str, *bodies: tuple[str, bytes]
) -> Callable[[Context], list[tuple[str, bytes | str, frozenset[int], bytes]]]:
    common = [
        ("not JSON", b"{not json"),
        ("not UTF-8", NOT_UTF8),
        ("a JSON array", b"[]"),
        ("nested too deep", DEEP),
    ]
    return lambda _ctx: [(what, path, status(400, 404), body) for what, body in (*common, *bodies)]


def _multipart(
    fields: list[tuple[str, bytes, str | None]],
) -> tuple[tuple[tuple[bytes, bytes], ...], bytes]:
    boundary = "edge-probe-boundary"
    parts: list[bytes] = []
    for name, value, filename in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        parts.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
            + (b"Content-Type: application/octet-stream\r\n" if filename else b"")
            + b"\r\n"
            + value
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return ((b"Content-Type", f"multipart/form-data; boundary={boundary}".encode()),), body


def _upload(
    path: str, person: Callable[[Context], str]
) -> tuple[
    Callable[[Context], list[tuple[str, bytes | str, frozenset[int], bytes]]],
    Callable[[Context], list[Probe]],
]:
    def malformed(_ctx: Context) -> list[tuple[str, bytes | str, frozenset[int], bytes]]:
        # Sent as JSON, not multipart/form-data.
        return [("not multipart", path, status(400), b'{"file": "x"}')]

    def oversized(ctx: Context) -> list[Probe]:
        user = person(ctx).encode()
        big_headers, big = _multipart(
            [("user_id", user, None), ("file", b"\0" * (UPLOAD_MAX_BYTES + 1), "big.bin")]
        )
        many_headers, many = _multipart([(f"f{i}", b"x", None) for i in range(40)])
        long_headers, long = _multipart([("caption", "я".encode() * 40_000, None)])
        return [
            Probe(
                "oversized",
                "a file over UPLOAD_MAX_BYTES",
                "POST",
                path.encode(),
                status(413),
                big_headers,
                big,
            ),
            Probe(
                "oversized",
                "too many fields",
                "POST",
                path.encode(),
                status(413),
                many_headers,
                many,
            ),
            Probe(
                "oversized",
                "a field too long",
                "POST",
                path.encode(),
                status(413),
                long_headers,
                long,
            ),
        ]

    return malformed, oversized


_tg_upload = _upload("/api/telegram/upload", lambda ctx: ctx.telegram_resident)
_vb_upload = _upload("/api/viber/upload", lambda ctx: ctx.viber_resident)


def _page_route(method: str, path: str, **kwargs: Any) -> Route:
    return Route(method, path, "sandbox", _page(method, path, **kwargs))


# -- the web desk ----------------------------------------------------------------------------------

FORM = ((b"Content-Type", b"application/x-www-form-urlencoded"),)
# Staff-only pages without a session: a page leads to the login form, anything else is 401
# before its body is read.
SIGNED_OUT_PAGE = status(303)
SIGNED_OUT_ACTION = status(401)


def _desk(
    method: str, path: str, *, public: bool = False, unsigned: frozenset[int] | None = None
) -> Route:
    """A desk route probed without a session (the role × endpoint matrix with sessions is in the
    desk's own tests): refused before any handler does anything."""
    target = "/desk" + path.replace("{id}", "1").replace("{name}", "x")
    target = target.replace("{ticket_id}", "1").replace("{message_id}", "1")
    target = target.replace("{action}", "answer").replace("{fmt}", "pdf")

    def make(_ctx: Context) -> list[Probe]:
        if method == "GET":
            seen = status(200, 303) if public else SIGNED_OUT_PAGE
            return [
                _get("unauthenticated", "no session", target, seen),
                _get("unauthenticated", "a forged session", target, seen, _SESSION_COOKIE),
                _get("malformed", "junk query", target + "?%ff%fe=%00&&=", seen),
                _get(
                    "oversized",
                    "over the request line",
                    target + "?" + "a" * OVER_LINE,
                    status(400),
                ),
            ]
        refused = FORBIDDEN if public else SIGNED_OUT_ACTION
        # ``unsigned``: what a same-site post without a token gets where that is not a 403.
        plain = unsigned if unsigned is not None else refused
        big = b"csrf=" + b"a" * MAX_BODY
        return [
            Probe(
                "unauthenticated",
                "no session, no token",
                method,
                target.encode(),
                plain,
                FORM,
                b"x=1",
            ),
            Probe(
                "unauthenticated",
                "another site",
                method,
                target.encode(),
                refused,
                (*FORM, EVIL_ORIGIN),
                b"csrf=x",
            ),
            Probe(
                "malformed",
                "not UTF-8",
                method,
                target.encode(),
                plain | status(400),
                FORM,
                NOT_UTF8,
            ),
            Probe(
                "oversized",
                "over MAX_BODY",
                method,
                target.encode(),
                status(413) | plain,
                FORM,
                big,
            ),
        ]

    return Route(method, "/desk" + path, "product", make)


_SESSION_COOKIE = (b"Cookie", b"citybot_desk=forged-token")


def consultation_report(_ctx: Context) -> list[Probe]:
    """A closed consultation's report: public by an unguessable token; a guessed or malformed
    token is simply not there."""
    base = "/consultations/report/"
    return [
        _get("unauthenticated", "a guessed token", base + "A" * 32 + ".pdf", status(404)),
        _get("malformed", "not a token", base.encode() + b"%ff%fe%00.pdf", status(404)),
        _get("oversized", "over the request line", base + "a" * OVER_LINE + ".pdf", status(400)),
    ]


def _desk_static(_ctx: Context) -> list[Probe]:
    return [
        _get("unauthenticated", "anyone (public files)", "/desk/static/desk.css", status(200)),
        _get("malformed", "a path out of static", "/desk/static/..%2Fapp.py", status(403, 404)),
        _get("malformed", "a hidden file", "/desk/static/.hidden", status(403, 404)),
        _get("oversized", "over the request line", "/desk/static/" + "a" * OVER_LINE, status(400)),
    ]


# Every route of the web desk (bot/desk/): add a screen's routes here.
def _desk_events(ctx: Context) -> list[Probe]:
    """The live stream: as a page without a session, and 401 when it asks for events (an
    EventSource cannot follow a redirect to the login form)."""
    stream = (b"Accept", b"text/event-stream")
    return [
        *_desk("GET", "/events").probes(ctx),
        _get(
            "unauthenticated", "no session, as an EventSource", "/desk/events", status(401), stream
        ),
        _get(
            "unauthenticated",
            "a forged session, as an EventSource",
            "/desk/events",
            status(401),
            stream,
            _SESSION_COOKIE,
        ),
    ]


DESK_ROUTES: list[Route] = [
    Route("GET", "/desk/static", "product", _desk_static),
    _desk("GET", "/"),
    _desk("GET", "/login", public=True),
    _desk("POST", "/login", public=True),
    _desk("GET", "/login/code", public=True),
    # No half-done sign-in: back to the login form.
    _desk("POST", "/login/code", public=True, unsigned=status(303)),
    _desk("POST", "/logout"),
    # Switching the language needs no token (harmless); another site is still refused.
    _desk("POST", "/language", public=True, unsigned=status(303)),
    _desk("POST", "/search"),
    # Linking a filtered queue's tickets to an incident (tests/test_desk_queue_link.py).
    _desk("POST", "/queue/link"),
    _desk("GET", "/dashboard"),
    # Staff accounts (bot/desk/invite.py, totp_setup.py, account.py, admin_staff.py,
    # admin_audit.py).
    _desk("GET", "/invite", public=True),
    _desk("POST", "/invite", public=True),
    # No half-done sign-in: back to the login form.
    _desk("GET", "/totp/setup", public=True),
    _desk("POST", "/totp/setup", public=True, unsigned=status(303)),
    _desk("GET", "/account"),
    _desk("POST", "/account/profile"),
    _desk("POST", "/account/password"),
    _desk("POST", "/account/totp/off"),
    _desk("GET", "/admin/staff"),
    _desk("POST", "/admin/staff"),
    _desk("GET", "/admin/staff/{id}"),
    _desk("POST", "/admin/staff/{id}"),
    _desk("GET", "/admin/staff/{id}/invitation"),
    _desk("POST", "/admin/staff/{id}/invite"),
    _desk("POST", "/admin/staff/{id}/disable"),
    _desk("POST", "/admin/staff/{id}/enable"),
    _desk("POST", "/admin/staff/{id}/totp-reset"),
    _desk("GET", "/admin/audit"),
    _desk("GET", "/admin/calendar"),
    _desk("POST", "/admin/calendar/holidays"),
    _desk("POST", "/admin/calendar/holidays/remove"),
    _desk("POST", "/admin/calendar/martial-law"),
    _desk("GET", "/admin/templates"),
    _desk("POST", "/admin/templates"),
    _desk("POST", "/admin/templates/delete"),
    _desk("GET", "/admin/departments"),
    _desk("POST", "/admin/departments"),
    _desk("POST", "/admin/departments/routes"),
    _desk("POST", "/admin/departments/{name}"),
    Route("GET", "/desk/events", "product", _desk_events),
    _desk("POST", "/tickets/{id}/typing"),
    _desk("GET", "/tickets/{id}/thread"),
    _desk("GET", "/tickets/{id}/row"),
    # News (editors and administrators: tests/test_desk_news.py has the role matrix).
    _desk("GET", "/news"),
    _desk("GET", "/news/new"),
    _desk("POST", "/news/new"),
    _desk("GET", "/news/count"),
    _desk("GET", "/news/{id}"),
    _desk("POST", "/news/{id}"),
    _desk("POST", "/news/{id}/send"),
    _desk("POST", "/news/{id}/approve"),
    _desk("POST", "/news/{id}/reopen"),
    _desk("POST", "/news/{id}/cancel"),
    _desk("POST", "/news/{id}/stop"),
    _desk("GET", "/news/{id}/progress"),
    # Polls (tests/test_desk_polls.py).
    _desk("GET", "/polls"),
    _desk("GET", "/polls/new"),
    _desk("POST", "/polls/new"),
    _desk("GET", "/polls/{id}"),
    _desk("POST", "/polls/{id}/send"),
    _desk("POST", "/polls/{id}/cancel"),
    _desk("POST", "/polls/{id}/close"),
    _desk("POST", "/polls/{id}/stop"),
    _desk("GET", "/polls/{id}/chart.png"),
    # The ticket page, its actions and its files (bot/desk/ticket*.py, files.py).
    _desk("GET", "/tickets/{ticket_id}"),
    _desk("POST", "/tickets/{ticket_id}/{action}"),
    # Incidents (tests/test_desk_incidents.py has the role matrix).
    _desk("GET", "/incidents"),
    _desk("GET", "/incidents/new"),
    _desk("POST", "/incidents/new"),
    _desk("GET", "/incidents/{id}"),
    _desk("POST", "/incidents/{id}/{action}"),
    # Consultations (tests/test_desk_roles.py has the role matrix).
    _desk("GET", "/consultations"),
    _desk("GET", "/consultations/{id}"),
    _desk("GET", "/consultations/{id}/report.{fmt}"),
    _desk("POST", "/consultations/{id}/{action}"),
    _desk("GET", "/consultations/new"),
    _desk("POST", "/consultations/new"),
    _desk("GET", "/consultations/{id}/edit"),
    _desk("POST", "/consultations/{id}/edit"),
    # The organisation registry (tests/test_desk_organisations.py).
    _desk("GET", "/organisations"),
    _desk("GET", "/organisations/new"),
    _desk("POST", "/organisations/new"),
    _desk("GET", "/organisations/{id}/edit"),
    _desk("POST", "/organisations/{id}/edit"),
    _desk("POST", "/organisations/{id}/code"),
    _desk("POST", "/organisations/invite"),
    _desk("GET", "/tickets/{ticket_id}/incident"),
    _desk("POST", "/tickets/{ticket_id}/incident"),
    _desk("GET", "/files/{message_id}"),
    # Media monitoring (tests/test_desk_media.py).
    _desk("GET", "/media"),
    _desk("POST", "/media/{id}"),
]


ROUTES: list[Route] = [
    *DESK_ROUTES,
    *OPEN311_ROUTES,
    Route("POST", "/telegram/webhook", "product", telegram_webhook),
    Route("POST", "/viber/webhook", "product", viber_webhook),
    Route("GET", "/healthz", "product", healthz),
    Route("GET", "/metrics", "product", metrics),
    Route("GET", "/media/{token}", "product", media),
    Route("GET", "/consultations/report/{token}.pdf", "product", consultation_report),
    _page_route("GET", "/", malformed=_no_input("/")),
    _page_route(
        "GET",
        "/static/{name}",
        malformed=lambda _ctx: [
            ("a path out of static", "/static/..%2Fapi.py", status(404), b""),
            ("a hidden file", "/static/.hidden", status(404), b""),
        ],
    ),
    _page_route("GET", "/api/world", malformed=_no_input("/api/world")),
    # The sandbox's door to the web desk (signs in as the demo administrator).
    _page_route(
        "GET",
        "/sandbox/desk",
        malformed=lambda _ctx: [("junk query", "/sandbox/desk?%ff%fe=%00&&=", status(303), b"")],
    ),
    _page_route("GET", "/api/events", malformed=_no_input("/api/events")),
    _page_route("GET", "/api/counters", malformed=_no_input("/api/counters")),
    _page_route("GET", "/api/settle", malformed=_no_input("/api/settle")),
    _page_route(
        "POST",
        "/api/personas",
        malformed=_json(
            "/api/personas", ("an unknown channel", b'{"channel": "icq", "name": "x"}')
        ),
    ),
    _page_route(
        "GET",
        "/api/telegram/chat/{chat_id}",
        malformed=lambda _ctx: [("not a number", "/api/telegram/chat/abc", status(400), b"")],
    ),
    _page_route(
        "GET",
        "/api/telegram/file/{file_id}",
        malformed=lambda _ctx: [
            ("an unknown file", b"/api/telegram/file/%ff%00", status(404), b"")
        ],
    ),
    _page_route(
        "POST",
        "/api/telegram/send",
        malformed=_json("/api/telegram/send", ("wrong types", b'{"user_id": [1], "text": 5}')),
    ),
    _page_route(
        "POST",
        "/api/telegram/press",
        malformed=_json("/api/telegram/press", ("user_id text", b'{"user_id": "x"}')),
    ),
    _page_route("POST", "/api/telegram/upload", malformed=_tg_upload[0], oversized=_tg_upload[1]),
    _page_route(
        "POST",
        "/api/telegram/location",
        malformed=_json("/api/telegram/location", ("user_id a fraction", b'{"user_id": 1.5}')),
    ),
    _page_route(
        "POST", "/api/telegram/contact", malformed=_json("/api/telegram/contact", ("null", b"null"))
    ),
    _page_route(
        "POST",
        "/api/telegram/block",
        malformed=_json("/api/telegram/block", ("user_id true", b'{"user_id": true}')),
    ),
    _page_route(
        "GET",
        "/api/viber/chat/{user_id}",
        malformed=lambda _ctx: [("an unknown user", b"/api/viber/chat/%ff%fe", status(404), b"")],
    ),
    _page_route(
        "POST",
        "/api/viber/start",
        malformed=_json("/api/viber/start", ("user_id a number", b'{"user_id": 5}')),
    ),
    _page_route(
        "POST",
        "/api/viber/send",
        malformed=_json("/api/viber/send", ("text a number", b'{"user_id": "x", "text": 5}')),
    ),
    _page_route(
        "POST",
        "/api/viber/press",
        malformed=_json("/api/viber/press", ("no button", b'{"user_id": "x"}')),
    ),
    _page_route("POST", "/api/viber/upload", malformed=_vb_upload[0], oversized=_vb_upload[1]),
    _page_route(
        "POST",
        "/api/viber/location",
        malformed=_json(
            "/api/viber/location", ("latitude text", b'{"user_id": "x", "latitude": "n"}')
        ),
    ),
    _page_route(
        "POST", "/api/viber/contact", malformed=_json("/api/viber/contact", ("null", b"null"))
    ),
    _page_route(
        "POST",
        "/api/viber/subscription",
        malformed=_json("/api/viber/subscription", ("user_id null", b'{"user_id": null}')),
    ),
    _page_route(
        "GET",
        "/sandbox/files/{upload_id}/{name}",
        malformed=lambda _ctx: [
            ("an unknown upload", "/sandbox/files/999/x.png", status(404), b"")
        ],
    ),
]


# -- a raw HTTP/1.1 client ----------------------------------------------------------------------


async def exchange(port: int, probe: Probe) -> tuple[int, bytes]:
    """Send ``probe`` as raw bytes; return the status and the response head (the body is not
    waited for: the sandbox's event stream never ends)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [probe.method.encode() + b" " + probe.target + b" HTTP/1.1"]
        if not any(name.lower() == b"host" for name, _ in probe.headers):
            lines.append(f"Host: 127.0.0.1:{port}".encode())
        lines += [name + b": " + value for name, value in probe.headers]
        if probe.body or probe.method == "POST":
            lines.append(f"Content-Length: {len(probe.body)}".encode())
        lines.append(b"Connection: close")
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + probe.body)
        # The server may answer (413) and stop reading before the whole body is sent.
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.wait_closed()
    return int(head.split(b" ", 2)[1]), head


async def fetch_body(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    return answer.split(b"\r\n\r\n", 1)[1]


async def run_probes(ctx: Context, app: str) -> None:
    failures: list[str] = []
    for route in ROUTES:
        if route.app != app:
            continue
        for probe in route.probes(ctx):
            got, head = await exchange(ctx.port, probe)
            if got not in probe.expect:
                failures.append(
                    f"{route.method} {route.path} [{probe.kind}: {probe.what}] -> {got}, "
                    f"expected {sorted(probe.expect)}"
                )
            if got >= 500:
                failures.append(
                    f"{route.method} {route.path} [{probe.what}] answered {got}:\n{head!r}"
                )
    assert not failures, "\n".join(failures)


# -- the table covers every route -----------------------------------------------------------------


def _routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        assert route.resource is not None
        found.add((route.method, route.resource.canonical))
    # aiohttp adds a HEAD twin to every GET: covered by the GET's probes.
    heads = {(method, path) for method, path in found if method == "HEAD"}
    assert {("GET", path) for _, path in heads} <= found
    return found - heads


@contextlib.asynccontextmanager
async def _product_app(database_url: str) -> AsyncIterator[web.Application]:
    settings = bot_settings(
        database_url,
        telegram_token=TELEGRAM_TOKEN,
        telegram_mode="webhook",
        viber_token=VIBER_TOKEN,
    )
    async with build_runtime(settings) as runtime:
        yield runtime.web_app


@contextlib.asynccontextmanager
async def _sandbox_app(database_url: str) -> AsyncIterator[web.Application]:
    async with stand_ins() as (telegram, viber):
        settings = sandbox_settings(
            SandboxOptions(port=1), telegram, viber, {"CITYBOT_DATABASE_URL": database_url}
        )
        async with build_runtime(settings) as runtime:
            api = SandboxApi(
                world=World(telegram=telegram, viber=viber),
                sessionmaker=runtime.sessionmaker,
                outbox=runtime.outbox,
                public_url="http://127.0.0.1:1",
                catalog=runtime.catalog,
                language=settings.language,
            )
            api.install(runtime.web_app)
            yield runtime.web_app


async def test_every_route_has_probes_of_each_kind(tmp_path: Path) -> None:
    """A route added to either application without an entry in ROUTES fails here; so does an
    entry for a route that no longer exists, or one without probes of each kind."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}"
    async with _product_app(url) as product:
        registered = {(method, path, "product") for method, path in _routes(product)}
    async with _sandbox_app(url) as sandbox:
        page = {(method, path, "sandbox") for method, path in _routes(sandbox)}
        # The sandbox serves the product's routes too (polling mode: no Telegram webhook).
        registered |= {(m, p, a) for m, p, a in page if (m, p, "product") not in registered}
    listed = {(route.method, route.path, route.app) for route in ROUTES}
    assert registered - listed == set(), "routes without probes: add them to ROUTES"
    assert listed - registered == set(), "ROUTES lists routes no application registers"
    ctx = Context(port=1, telegram_resident="1", viber_resident="v==")
    for route in ROUTES:
        kinds = {probe.kind for probe in route.probes(ctx)}
        assert kinds == set(KINDS), (route.method, route.path, kinds)


# -- the probes, against the running servers ------------------------------------------------------


async def test_product_routes_refuse_the_unauthenticated_malformed_and_oversized(
    database_url: str,
) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as telegram, FakeViber(VIBER_TOKEN) as viber:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=telegram.base_url,
            telegram_mode="webhook",
            viber_token=VIBER_TOKEN,
            viber_api_url=viber.base_url,
            operator_chat_id=-1001500000001,
            metrics_token=METRICS_TOKEN,
        )
        async with running_bot(settings) as runtime:
            ctx = Context(port=settings.http_port)
            await run_probes(ctx, "product")
            # Nothing ran: no resident, no claim, no message, no /stats; the signed junk is
            # recorded as refused.
            async with runtime.sessionmaker() as session:
                residents = await session.scalar(select(func.count()).select_from(Resident))
                claims = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
                actions = list(await session.scalars(select(AuditEntry.action)))
                refused = list(
                    await session.scalars(
                        select(AuditEntry.details)
                        .where(AuditEntry.action == "viber.callback_refused")
                        .order_by(AuditEntry.id)
                    )
                )
            assert (residents, claims) == (0, 0)
            assert not [a for a in actions if a.startswith("stats.")]
            assert [details["reason"] for details in refused] == ctx.refused
            assert telegram.calls_to("sendMessage") == []
            assert viber.messages("prober==") == []
            # /healthz says only this much to anyone.
            health = json.loads(await fetch_body(ctx.port, "/healthz"))
            assert set(health) == {"status", "database", "channels", "version"}


async def test_sandbox_routes_refuse_other_sites_malformed_and_oversized(tmp_path: Path) -> None:
    async with running_sandbox(f"sqlite+aiosqlite:///{tmp_path / 'sb.db'}") as sandbox:
        world = await sandbox.world()
        telegram_resident = world["telegram_residents"][0]["id"]
        viber_resident = world["viber_residents"][0]["id"]
        ctx = Context(
            port=int(sandbox.url.rsplit(":", 1)[1]),
            telegram_resident=telegram_resident,
            viber_resident=viber_resident,
        )
        await run_probes(ctx, "sandbox")
        # Nothing reached the bot or changed the world.
        after = await sandbox.world()
        assert after["telegram_residents"] == world["telegram_residents"]
        assert after["viber_residents"] == world["viber_residents"]
        chat = await sandbox.get(f"/api/telegram/chat/{telegram_resident}")
        assert chat["messages"] == []
        viber_chat = await sandbox.get("/api/viber/chat/" + viber_resident)
        assert viber_chat["entries"] == []
