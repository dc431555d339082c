"""The stand-ins for the messengers: fake Telegram Bot API and Viber REST API servers.

Both run over real HTTP on loopback and answer like the real services (errors included), so
the bot, the test suite, the benchmarks and the sandbox talk to them through their ordinary
clients. ``server`` is what they share; ``telegram`` and ``viber`` are one package each.
"""
