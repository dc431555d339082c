"""The Telegram operator chat: ticket cards and threads in the staff chats, staff commands and
buttons, and the news and poll composers. An adapter: the rules it applies live below it."""
