"""Which database errors a retry cannot fix, and how a failure is described without the data
that caused it.

A messenger redelivers an update until it is acknowledged. That is right while the database is
down (nothing was stored), and wrong when the database refuses the data itself: the same update
fails the same way every time, and in polling mode it holds up every update after it.
"""

from __future__ import annotations

import traceback
from typing import Final

from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError, StatementError

# What a failed database step means "try again later" for, written once: the server is down or
# restarting, the pool timed out, the connection dropped, or the statement failed. Caught by jobs
# that run again on their next tick and by steps whose work stays stored for a later try; a
# caller that must tell a refusal of the data itself apart asks ``is_permanent`` as well.
# OSError covers refused connections and TimeoutError (asyncio's too, since Python 3.11).
TRY_AGAIN_LATER: Final = (SQLAlchemyError, OSError)

# SQLSTATE classes (PostgreSQL; other servers use the same standard classes) of errors about the
# statement's data, not the server's state: 22 data exception (value too long, invalid byte
# sequence, numeric out of range, invalid text representation), 54 program limit exceeded (a
# value too large for an index row). Serialization failures (40), connection errors (08),
# insufficient resources (53) and operator intervention (57) are not here: they pass.
PERMANENT_SQLSTATE_CLASSES: Final = frozenset({"22", "54"})


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a DBAPI error (asyncpg: ``sqlstate``, psycopg: ``pgcode``), if any."""
    original = getattr(error, "orig", None)
    for source in (original, getattr(original, "__cause__", None)):
        code = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


def is_permanent(error: BaseException) -> bool:
    """Whether the same statement with the same data would fail again, whatever the server's
    state: DataError (SQLite's "string or blob too big" too), a data-exception SQLSTATE, or a
    failure to bind a parameter at all (a value the driver cannot encode)."""
    if isinstance(error, DataError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return False
        code = sqlstate(error)
        return code is not None and code[:2] in PERMANENT_SQLSTATE_CLASSES
    # A StatementError that is not a DBAPIError never reached the server: a bind processor
    # refused a value.
    return isinstance(error, StatementError)


def failure_reason(error: BaseException) -> str:
    """The failure's class, the driver's class under it and the SQLSTATE, e.g.
    ``DBAPIError/StringDataRightTruncationError/22001``: enough to tell failures apart, and
    never the error's message, which may quote the value that was refused (PostgreSQL's
    ``invalid input syntax for type integer: "…"``, asyncpg's ``invalid input for query
    argument $1: '…'``)."""
    parts = [type(error).__name__]
    original = getattr(error, "orig", None)
    if original is not None:
        cause = original.__cause__ if original.__cause__ is not None else original
        parts.append(type(cause).__name__)
    code = sqlstate(error)
    if code:
        parts.append(code)
    return "/".join(parts)


def failure_trace(error: BaseException) -> str:
    """Where ``error`` was raised (file, line, code), without any exception's message: the log
    gets what a developer needs and none of the resident's data."""
    return "".join(traceback.format_tb(error.__traceback__)).rstrip()
