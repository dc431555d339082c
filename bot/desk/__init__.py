"""The web desk: staff work from a browser, on the council's own server (issue 15).

It is the staff core's second adapter, beside the Telegram operator chat: pages and forms turn
into calls of the same channel-neutral operations (``handlers.staff``), audited with the account
and the client address. ``app.py`` builds the aiohttp sub-application mounted at ``/desk/``;
``security.py`` holds the session, CSRF and header middlewares; each screen is a module with its
own ``routes()``.
"""
