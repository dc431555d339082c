"""One resident event being handled: the state a flow reads and changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from messaging.contract import Effect, Incoming
from storage.models import Resident

FLOW_IDLE = "idle"


@dataclass
class Turn:
    """Everything one event's handling reads and changes."""

    session: AsyncSession
    resident: Resident
    event: Incoming
    now: datetime
    flow: str = FLOW_IDLE
    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    # Work for the staff side once this turn is committed.
    effects: list[Effect] = field(default_factory=list)
    # The messenger account the event came from when it is not ``resident`` itself: an alias
    # linked to ``resident``, the person's primary row (storage/linking.py).
    via: Resident | None = None

    @property
    def account(self) -> Resident:
        """The row of the messenger account the event came from (reachability is per account;
        everything else is the person's, on ``resident``)."""
        return self.via if self.via is not None else self.resident

    @property
    def lang(self) -> str:
        return self.resident.language

    @property
    def actor(self) -> str:
        return f"resident:{self.resident.id}"

    def go(self, flow: str, step: str = "") -> None:
        self.flow, self.step = flow, step
