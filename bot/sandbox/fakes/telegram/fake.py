"""FakeTelegram: the fake Bot API server, every layer together, and its method table."""

from __future__ import annotations

from bot.sandbox.fakes.telegram.control import Control
from bot.sandbox.fakes.telegram.params import Handler


class FakeTelegram(Control):
    """A fake Bot API server on 127.0.0.1; see the package docstring."""

    def _handlers(self) -> dict[str, Handler]:
        return {
            "getMe": self._m_get_me,
            "logOut": self._m_log_out,
            "close": self._m_close,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "sendAudio": self._media_sender("audio"),
            "sendVideo": self._media_sender("video"),
            "sendAnimation": self._media_sender("animation"),
            "sendVoice": self._media_sender("voice"),
            "sendVideoNote": self._media_sender("video_note", caption=False),
            "sendSticker": self._media_sender("sticker", caption=False),
            "sendLocation": self._m_send_location,
            "sendContact": self._m_send_contact,
            "sendMediaGroup": self._m_send_media_group,
            "setMyDescription": self._setting_store("setMyDescription"),
            "setMyShortDescription": self._setting_store("setMyShortDescription"),
            "setMyName": self._setting_store("setMyName"),
            "setChatMenuButton": self._setting_store("setChatMenuButton"),
            "setMyDefaultAdministratorRights": self._setting_store(
                "setMyDefaultAdministratorRights"
            ),
            "leaveChat": self._m_leave_chat,
            "copyMessage": self._m_copy_message,
            "forwardMessage": self._m_forward_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "deleteMessages": self._m_delete_messages,
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendChatAction": self._m_send_chat_action,
            "createForumTopic": self._m_create_forum_topic,
            "editForumTopic": self._m_edit_forum_topic,
            "closeForumTopic": self._m_close_forum_topic,
            "reopenForumTopic": self._m_reopen_forum_topic,
            "deleteForumTopic": self._m_delete_forum_topic,
            "getChat": self._m_get_chat,
            "getChatMember": self._m_get_chat_member,
            "getFile": self._m_get_file,
            "pinChatMessage": self._m_pin_chat_message,
            "unpinChatMessage": self._m_unpin_chat_message,
        }
