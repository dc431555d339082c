"""The sandbox: the real bot against local stand-ins for Telegram and Viber, shown in a web page.

The stand-ins (the packages ``fakes.telegram`` and ``fakes.viber``) are the same servers the
test suite uses: a supported part of the product, so they must answer like the real APIs."""
