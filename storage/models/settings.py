"""The council's data-not-code settings (holidays, switches) and the bookkeeping of scheduled
jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Holiday(Base):
    """A public holiday (data, not code: administrators may change the list)."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))


class AppSetting(Base):
    """Small runtime switches kept in the database (e.g. martial law)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


class JobRun(Base):
    """One row per scheduled job per fire time: the process that inserts it runs the job, the
    others skip it, so scheduled jobs run once however many ``citybot run`` processes there are."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    fire_at: Mapped[datetime] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    runner: Mapped[str | None] = mapped_column(String(128))
