"""The persistent domain model (SQLAlchemy 2, typed), identical on SQLite and PostgreSQL.

One module per area (people, staff, tickets, broadcasts, settings) on a shared base; every class is
imported here, so ``from storage.models import X`` works for every table and ``Base.metadata``
(which Alembic reads) holds them all once this package is imported.

Every timestamp is timezone-aware UTC. SQLite has no time zone type, so ``UTCDateTime`` attaches
UTC on the way out; PostgreSQL stores ``timestamptz``.
"""

from storage.models.base import NAMING_CONVENTION, Base, BigId, UTCDateTime
from storage.models.broadcasts import (
    Broadcast,
    Delivery,
    FeedItem,
    NewsPreview,
    NewsPrompt,
    NewsReport,
    Poll,
    PollPrompt,
    PollVote,
)
from storage.models.consultations import (
    Consultation,
    ConsultationAnswer,
    ConsultationQuestion,
    ConsultationReport,
    ConsultationSubmission,
    Invitation,
    Organisation,
)
from storage.models.incidents import (
    Incident,
    IncidentAnswer,
    IncidentFollower,
    IncidentTicket,
    IncidentUpdate,
)
from storage.models.media import MediaFeed, MediaItem, MediaStory, WatchTerm
from storage.models.open311 import Open311Key, Open311Request
from storage.models.people import (
    AuditEntry,
    ConversationState,
    LinkCode,
    ProcessedUpdate,
    Resident,
    ResidentTopic,
)
from storage.models.settings import AppSetting, Holiday, JobRun
from storage.models.staff import (
    DeskPresence,
    LoginFailure,
    Staff,
    StaffDepartment,
    StaffInvite,
    StaffSession,
)
from storage.models.tickets import (
    CategoryKeyword,
    CategoryRoute,
    Department,
    DeskPost,
    KeptFile,
    SentTicketMessage,
    Template,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketMessage,
)

__all__ = [
    "NAMING_CONVENTION",
    "AppSetting",
    "AuditEntry",
    "Base",
    "BigId",
    "Broadcast",
    "CategoryKeyword",
    "CategoryRoute",
    "Consultation",
    "ConsultationAnswer",
    "ConsultationQuestion",
    "ConsultationReport",
    "ConsultationSubmission",
    "ConversationState",
    "Delivery",
    "Department",
    "DeskPost",
    "DeskPresence",
    "FeedItem",
    "Holiday",
    "Incident",
    "IncidentAnswer",
    "IncidentFollower",
    "IncidentTicket",
    "IncidentUpdate",
    "Invitation",
    "JobRun",
    "KeptFile",
    "LinkCode",
    "LoginFailure",
    "MediaFeed",
    "MediaItem",
    "MediaStory",
    "NewsPreview",
    "NewsPrompt",
    "NewsReport",
    "Open311Key",
    "Open311Request",
    "Organisation",
    "Poll",
    "PollPrompt",
    "PollVote",
    "ProcessedUpdate",
    "Resident",
    "ResidentTopic",
    "SentTicketMessage",
    "Staff",
    "StaffDepartment",
    "StaffInvite",
    "StaffSession",
    "Template",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketMessage",
    "UTCDateTime",
    "WatchTerm",
]
