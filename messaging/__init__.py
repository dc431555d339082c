"""The vocabulary that resident flows, staff and broadcasts share, below all of them: the channel
contract (what comes in, what goes out, what a sender can do), the message catalogs and the text
markup helpers. It imports nothing of ``bot``, ``handlers`` or ``broadcasts`` (checked by
tests/test_architecture.py)."""
