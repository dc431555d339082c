"""A fake Viber REST Bot API server for tests and the sandbox.

`FakeViber` listens on 127.0.0.1 (random free port) over real HTTP and answers the
endpoints of https://developers.viber.com/docs/api/rest-bot-api/ the way Viber documents
them, so a bot under test can point its API base URL at ``fake.base_url`` and never learn
it is not talking to ``https://chatapi.viber.com/pa``.  It also plays the Viber users:
``send_text`` & co. POST signed callbacks to the bot's webhook, exactly as Viber does.

Behaviour that is reproduced on purpose (all from the public docs unless noted):

* Every API answer is HTTP 200 with JSON ``{"status": N, "status_message": ...}``; the
  status codes and their names are Viber's error table (``STATUS_MESSAGES``).
* Auth token in the ``X-Viber-Auth-Token`` header, or ``auth_token`` in the body (the
  official Python SDK only sends the latter, and it works in production).
* ``set_webhook`` performs the availability check: it POSTs a signed ``webhook`` event to
  the URL and succeeds only if the bot answers HTTP 200, otherwise status 1.  An empty
  ``url`` removes the webhook.  ``event_types`` filters the optional callbacks
  (delivered, seen, failed, conversation_started); message/subscribed/unsubscribed are
  mandatory.  ``send_name``/``send_photo`` default to false, and then user objects in
  callbacks carry no ``name``/``avatar`` - Viber only shares them when the bot opts in.
* Callbacks carry ``X-Viber-Content-Signature`` (hex HMAC-SHA256 of the raw body keyed by
  the auth token) and, by default, the same value as a ``sig`` query parameter (the
  official Node SDK reads the signature from there, so real Viber sends both).
* A user's first message subscribes them implicitly, without a ``subscribed`` callback.
* A ``conversation_started`` callback may be answered with a message body: the "welcome
  message", which is shown to the user even if they are not subscribed.
* Viber re-tries callbacks that did not get HTTP 200; see "Redelivery" below.

Redelivery (bounded, our design - Viber says it retries "several times"): every signed
callback the fake emits (except the set_webhook check and ``post_raw``) becomes a
``CallbackRecord``.  If the bot answers anything but 200 (or times out / refuses), the
record stays pending until it has been attempted ``max_callback_attempts`` times in total
(default 3), after which it is dropped and counted in ``stats.callbacks_dropped``.  Each
retry re-sends the *identical* bytes - same ``message_token``, same signature - because
that is what a real duplicate looks like.  Retries are manual by default (``await
fake.redeliver()`` retries every pending record once) so tests stay deterministic; with
``auto_redeliver=True`` the fake retries by itself in background tasks after
``redelivery_backoff * 2**(attempt-1)`` seconds, and ``await fake.drain()`` waits for them.

Broadcast to an account without broadcast permission: Viber's error table has a dedicated
code, 20 "broadcastNotAllowed" ("Attempt to send broadcast message from the bot"), and the
broadcast guide says the ability is opened only on approval by Viber - so that is what a
``FakeViber(broadcast_enabled=False)`` answers.

The package, one idea a module: ``protocol`` (status table, limits), ``records`` (what tests
inspect), ``validation`` (message bodies and keyboards). ``FakeViber`` is assembled from
layers, each a module built on the one before: ``core`` (construction, transcript, failure
injection) → ``callbacks`` (signed callbacks, redelivery) → ``media`` (the CDN) →
``endpoints`` (dispatch, auth, set_webhook) → ``messaging`` (send and broadcast) → ``users``
(the simulated users) → ``fake`` (routes and inspection).
"""

from bot.sandbox.fakes.viber.fake import FakeViber
from bot.sandbox.fakes.viber.protocol import AUTH_HEADER, SIGNATURE_HEADER, STATUS_MESSAGES
from bot.sandbox.fakes.viber.records import (
    ApiCall,
    CallbackRecord,
    ChatEntry,
    Delivery,
    FakeViberStats,
    HostedMedia,
    ViberUser,
)
from bot.sandbox.fakes.viber.validation import validate_keyboard, validate_message

__all__ = [
    "AUTH_HEADER",
    "SIGNATURE_HEADER",
    "STATUS_MESSAGES",
    "ApiCall",
    "CallbackRecord",
    "ChatEntry",
    "Delivery",
    "FakeViber",
    "FakeViberStats",
    "HostedMedia",
    "ViberUser",
    "validate_keyboard",
    "validate_message",
]
