"""The operator side: ticket cards and threads in the staff Telegram chats, staff actions, and
the notices residents get when their ticket changes. Telegram only, by design (DESIGN.md)."""
