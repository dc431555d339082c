"""The news composer in the staff chats: compose, preview, target, schedule, approve, send, and
follow a broadcast's progress."""
