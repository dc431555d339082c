"""citybot: the Telegram and Viber bot of a city council."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("citybot")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
