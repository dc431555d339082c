"""Viber's REST API vocabulary: headers, the status table, limits, and the API error."""

from __future__ import annotations

from typing import Any

JSONDict = dict[str, Any]

AUTH_HEADER = "X-Viber-Auth-Token"
SIGNATURE_HEADER = "X-Viber-Content-Signature"

# Viber's documented error table.  status_message uses these names verbatim, except where
# Viber documents a different wording (broadcast failed_list entries).
STATUS_MESSAGES: dict[int, str] = {
    0: "ok",
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    9: "publicAccountSuspended",
    10: "webhookNotSet",
    11: "receiverNoSuitableDevice",
    12: "tooManyRequests",
    13: "apiVersionNotSupported",
    14: "incompatibleWithVersion",
    15: "publicAccountNotAuthorized",
    16: "inchatReplyMessageNotAllowed",
    17: "publicAccountIsNotInline",
    18: "noPublicChat",
    19: "cannotSendBroadcast",
    20: "broadcastNotAllowed",
    21: "unsupportedCountry",
    22: "paymentUnsupported",
    23: "freeMessagesExceeded",
    24: "noBalance",
}

OK = 0
INVALID_URL = 1
INVALID_AUTH_TOKEN = 2
BAD_DATA = 3
MISSING_DATA = 4
RECEIVER_NOT_REGISTERED = 5
RECEIVER_NOT_SUBSCRIBED = 6
WEBHOOK_NOT_SET = 10
RECEIVER_NO_SUITABLE_DEVICE = 11
TOO_MANY_REQUESTS = 12
API_VERSION_NOT_SUPPORTED = 13
NO_PUBLIC_CHAT = 18
BROADCAST_NOT_ALLOWED = 20

# Wording of failed_list entries in the broadcast docs' example response.
BROADCAST_FAILURE_TEXT = {
    RECEIVER_NOT_REGISTERED: "Not found",
    RECEIVER_NOT_SUBSCRIBED: "Not subscribed",
    RECEIVER_NO_SUITABLE_DEVICE: "No suitable device",
}

MESSAGE_TYPES = frozenset(
    {"text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media"}
)
OPTIONAL_EVENTS = (
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
)
MANDATORY_EVENTS = frozenset({"message", "subscribed", "unsubscribed"})
BUTTON_ACTION_TYPES = frozenset({"reply", "open-url", "share-phone", "location-picker", "none"})

MAX_REQUEST_BYTES = 30 * 1024  # "The maximum JSON size for all API requests is 30kb"
MAX_TEXT = 7000
MAX_SENDER_NAME = 28
MAX_TRACKING_DATA = 4096
MAX_BROADCAST_LIST = 300
MAX_GET_ONLINE_IDS = 100
MAX_BUTTON_TEXT = 250
# A subset of the executable formats Viber refuses in file messages.
FORBIDDEN_FILE_EXTENSIONS = frozenset(
    {"exe", "bat", "cmd", "com", "cpl", "dll", "msi", "scr", "vbs", "apk", "jar", "ps1", "reg"}
)
# Broadcast place holders, replaced per receiver (documented in the broadcast guide).
PH_URL_ID = "replace_me_with_url_encoded_receiver_id"
PH_ID = "replace_me_with_receiver_id"
PH_NAME = "replace_me_with_user_name"

# Media URLs in callbacks are signed CDN links that expire: Viber's docs give them a TTL of one
# hour; past it (or with a tampered signature) the CDN answers 403, an unknown object 404.
MEDIA_TTL = 3600.0
# What a user may send: Viber lets people share files up to 200 MB.
MAX_USER_FILE = 200 * 1024 * 1024


FIRST_TOKEN = 4_912_661_846_655_238_145  # the docs' example token; stays within int64
USER_DETAILS_WINDOW = 12 * 3600.0  # "can be sent twice during a 12 hours period"

# HTTP status reported by simulation methods when no HTTP answer exists: no webhook set,
# the event was filtered out by event_types, or the connection failed / timed out.
NOT_DELIVERED = 0


class ViberApiError(Exception):
    """Raised inside handlers; rendered as a Viber status response."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
