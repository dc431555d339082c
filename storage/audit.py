"""Audit log: who did what, when. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    now: datetime,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(at=now, actor=actor, action=action, subject=subject, details=details or {})
    session.add(entry)
    return entry
