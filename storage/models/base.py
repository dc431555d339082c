"""The ground every table stands on: the declarative base with stable constraint names, and the
column types shared by every area (ids, UTC timestamps).

Every timestamp is timezone-aware UTC. SQLite has no time zone type, so ``UTCDateTime`` attaches
UTC on the way out; PostgreSQL stores ``timestamptz``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic migrations are the same on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


# ``Index.info`` key naming the one database an index exists on (``ddl_if``): PostgreSQL's
# trigram indexes have no SQLite counterpart.
ONLY_ON = "only_on"
IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def objects_of(dialect: str) -> IncludeObject:
    """Alembic's ``include_object`` for ``dialect``: leaves out the indexes of another database
    (autogenerate and the schema comparison of the tests would otherwise ask for them)."""

    def include(item: Any, _name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
        only = item.info.get(ONLY_ON) if kind == "index" else None
        return only is None or only == dialect

    return include
