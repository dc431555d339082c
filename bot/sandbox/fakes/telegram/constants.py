"""Limits, names and fixed texts of the Telegram Bot API that the fake reproduces."""

from __future__ import annotations

import re
from typing import Any

JSON = dict[str, Any]

# Text limits from https://core.telegram.org/bots/api (counted after entity parsing).
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_TEXT = 200
MAX_GETFILE_SIZE = 20 * 1024 * 1024
MAX_UPLOAD_SIZE = 50 * 1024 * 1024
# Files Telegram downloads itself, given by URL: photos up to 5 MB, other files up to 20 MB.
MAX_URL_PHOTO = 5 * 1024 * 1024
MAX_URL_FILE = 20 * 1024 * 1024
URL_FILE_PARAMS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendAudio": "audio",
    "sendVideo": "video",
    "sendAnimation": "animation",
    "sendVoice": "voice",
    "sendVideoNote": "video_note",
}

ALL_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram only sends these when they are explicitly listed in allowed_updates.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
FORUM_ICON_COLORS = frozenset({7322096, 16766590, 13338331, 9367192, 16749490, 16478047})
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CALLBACK_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
# Every Bot API method name (as of Bot API 9.x); those without a handler answer 501.
_REAL_METHOD_NAMES = """
    addStickerToSet answerCallbackQuery answerInlineQuery answerPreCheckoutQuery
    answerShippingQuery answerWebAppQuery approveChatJoinRequest approveSuggestedPost
    banChatMember banChatSenderChat close closeForumTopic closeGeneralForumTopic
    convertGiftToStars copyMessage copyMessages createChatInviteLink
    createChatSubscriptionInviteLink createForumTopic createInvoiceLink createNewStickerSet
    declineChatJoinRequest declineSuggestedPost deleteBusinessMessages deleteChatPhoto
    deleteChatStickerSet deleteForumTopic deleteMessage deleteMessages deleteMyCommands
    deleteStickerFromSet deleteStickerSet deleteStory deleteWebhook editChatInviteLink
    editChatSubscriptionInviteLink editForumTopic editGeneralForumTopic editMessageCaption
    editMessageChecklist editMessageLiveLocation editMessageMedia editMessageReplyMarkup
    editMessageText editStory editUserStarSubscription exportChatInviteLink forwardMessage
    forwardMessages getAvailableGifts getBusinessAccountGifts getBusinessAccountStarBalance
    getBusinessConnection getChat getChatAdministrators getChatGifts getChatMember
    getChatMemberCount getChatMenuButton getCustomEmojiStickers getFile
    getForumTopicIconStickers getGameHighScores getMe getMyCommands
    getMyDefaultAdministratorRights getMyDescription getMyName getMyShortDescription
    getMyStarBalance getStarTransactions getStickerSet getUpdates getUserChatBoosts
    getUserGifts getUserProfilePhotos getWebhookInfo giftPremiumSubscription
    hideGeneralForumTopic leaveChat logOut pinChatMessage postStory promoteChatMember
    readBusinessMessage refundStarPayment removeBusinessAccountProfilePhoto
    removeChatVerification removeUserVerification reopenForumTopic reopenGeneralForumTopic
    replaceStickerInSet repostStory restrictChatMember revokeChatInviteLink
    savePreparedInlineMessage sendAnimation sendAudio sendChatAction sendChecklist
    sendContact sendDice sendDocument sendGame sendGift sendInvoice sendLocation
    sendMediaGroup sendMessage sendMessageDraft sendPaidMedia sendPhoto sendPoll sendSticker
    sendVenue sendVideo sendVideoNote sendVoice setBusinessAccountBio
    setBusinessAccountGiftSettings setBusinessAccountName setBusinessAccountProfilePhoto
    setBusinessAccountUsername setChatAdministratorCustomTitle setChatDescription
    setChatMenuButton setChatPermissions setChatPhoto setChatStickerSet setChatTitle
    setCustomEmojiStickerSetThumbnail setGameScore setMessageReaction setMyCommands
    setMyDefaultAdministratorRights setMyDescription setMyName setMyShortDescription
    setPassportDataErrors setStickerEmojiList setStickerKeywords setStickerMaskPosition
    setStickerPositionInSet setStickerSetThumbnail setStickerSetTitle setUserEmojiStatus
    setWebhook stopMessageLiveLocation stopPoll transferBusinessAccountStars transferGift
    unbanChatMember unbanChatSenderChat unhideGeneralForumTopic unpinAllChatMessages
    unpinAllForumTopicMessages unpinAllGeneralForumTopicMessages unpinChatMessage
    upgradeGift uploadStickerFile verifyChat verifyUser
"""
REAL_METHODS = frozenset(name.lower() for name in _REAL_METHOD_NAMES.split())
TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
