"""The poll composer in the staff chats (``/poll``) and results on request (``/pollresults``)."""
