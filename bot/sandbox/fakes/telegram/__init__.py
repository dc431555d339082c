"""A fake Telegram Bot API server for tests and the sandbox.

``FakeTelegram`` listens on 127.0.0.1 over real HTTP and answers the way
https://api.telegram.org does, so the bot under test talks to it through its
normal HTTP client (aiogram's ``AiohttpSession`` pointed at ``base_url``)
instead of through mocks.  The goal is fidelity to the documented Bot API:
the same envelopes, the same HTTP status codes, the same error descriptions
for the mistakes a bot realistically makes (bad HTML, too-long text, blocked
users, stale callback queries, rate limits, webhook/polling conflicts).

Besides the HTTP side it offers a simulation API (users writing to the bot,
pressing buttons, blocking it) and an inspection API (what the bot sent, what
it called), see ``FakeTelegram``.

Known, deliberate deviations from the real server (kept because tests run
offline on 127.0.0.1):

* webhooks may be plain ``http://`` on any port;
* photos sent by URL are not downloaded, a placeholder photo is recorded;
* a bare ``&`` that does not start an entity is rejected in HTML mode (the
  documentation says it must be escaped; the real server is lenient), unless
  ``strict_html=False`` is passed.

The package, one idea a module: ``markup`` (HTML and Markdown parsing into entities),
``params`` and ``wire`` (request decoding and parameter types), ``reply_markup``
(keyboard validation), ``limits`` (rate limits), ``state`` (users, chats, messages, files).
``FakeTelegram`` is assembled from layers, each a module and each built on the one before:
``core`` (construction, HTTP dispatch) → ``chats`` (access, formatting, storing) → ``files``
→ ``updates`` (getUpdates, webhooks) → ``bot_methods`` → ``sending`` → ``editing`` →
``forum`` → ``residents`` (simulated users) → ``control`` (buttons, inspection, waits) →
``fake`` (the method table).
"""

from bot.sandbox.fakes.images import make_png
from bot.sandbox.fakes.telegram.fake import FakeTelegram
from bot.sandbox.fakes.telegram.markup import parse_html, parse_markdown, parse_markdown_v2
from bot.sandbox.fakes.telegram.records import (
    ApiErrorRecord,
    Call,
    SimUpdate,
    UploadedFile,
    WebhookDelivery,
)

__all__ = [
    "ApiErrorRecord",
    "Call",
    "FakeTelegram",
    "SimUpdate",
    "UploadedFile",
    "WebhookDelivery",
    "make_png",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
]
