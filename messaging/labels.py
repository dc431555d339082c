"""Tables from a code to its message id: the catalog keys of every vocabulary the code shows.

Keys are never built from strings at run time (``f"topic.{code}"``): a code is looked up here,
so every msgid is a literal that ``pybabel extract`` and ``tests/test_catalog_coverage.py``
find (``N_`` marks them), and an unknown code fails as a ``KeyError`` at the lookup, as a
missing key did before. Tables keyed by two codes use a tuple.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final


def N_(key: str) -> str:
    """Mark a message id (a table entry) without translating it: gettext's ``gettext_noop``.
    ``messaging/extract.py`` and the coverage test find msgids through it."""
    return key


# Subscription topics (storage.vocabulary.Topic).
TOPIC: Final[Mapping[str, str]] = {
    "city_news": N_("topic.city_news"),
    "decisions": N_("topic.decisions"),
    "events": N_("topic.events"),
    "outages": N_("topic.outages"),
}

# Districts (storage.vocabulary.District), ``city`` for the whole city.
DISTRICT: Final[Mapping[str, str]] = {
    "city": N_("district.city"),
    "dovhyntsivskyi": N_("district.dovhyntsivskyi"),
    "inhuletskyi": N_("district.inhuletskyi"),
    "metalurhiinyi": N_("district.metalurhiinyi"),
    "pokrovskyi": N_("district.pokrovskyi"),
    "saksahanskyi": N_("district.saksahanskyi"),
    "ternivskyi": N_("district.ternivskyi"),
    "tsentralno_miskyi": N_("district.tsentralno_miskyi"),
}

# How often news comes (storage.vocabulary.Digest).
DIGEST: Final[Mapping[str, str]] = {
    "daily": N_("digest.daily"),
    "instant": N_("digest.instant"),
    "weekly": N_("digest.weekly"),
}

# A ticket's status as residents read it.
STATUS: Final[Mapping[str, str]] = {
    "answered": N_("status.answered"),
    "closed": N_("status.closed"),
    "in_progress": N_("status.in_progress"),
    "new": N_("status.new"),
    "refused": N_("status.refused"),
}

# A ticket's kind as residents read it.
KIND: Final[Mapping[str, str]] = {
    "appeal": N_("kind.appeal"),
    "feedback": N_("kind.feedback"),
    "info_request": N_("kind.info_request"),
    "legal_aid": N_("kind.legal_aid"),
}

# The button that starts a ticket of a kind.
KIND_BUTTON: Final[Mapping[str, str]] = {
    "appeal": N_("kind.button.appeal"),
    "feedback": N_("kind.button.feedback"),
    "info_request": N_("kind.button.info_request"),
    "legal_aid": N_("kind.button.legal_aid"),
}

# Yes/no answers of a form step.
CHOICE_FLAG: Final[Mapping[str, str]] = {
    "no": N_("choice.no"),
    "yes": N_("choice.yes"),
}

# Categories a resident can choose.
CHOICE_CATEGORY: Final[Mapping[str, str]] = {
    "council_work": N_("choice.category.council_work"),
    "housing": N_("choice.category.housing"),
    "improvement": N_("choice.category.improvement"),
    "other": N_("choice.category.other"),
    "roads_transport": N_("choice.category.roads_transport"),
    "social": N_("choice.category.social"),
}

# Appeal types a resident can choose.
CHOICE_APPEAL_TYPE: Final[Mapping[str, str]] = {
    "application": N_("choice.appeal_type.application"),
    "complaint": N_("choice.appeal_type.complaint"),
    "proposal": N_("choice.appeal_type.proposal"),
}

# Legal-aid topics a resident can choose.
CHOICE_LEGAL_TOPIC: Final[Mapping[str, str]] = {
    "consumer": N_("choice.legal_topic.consumer"),
    "family": N_("choice.legal_topic.family"),
    "housing": N_("choice.legal_topic.housing"),
    "labour": N_("choice.legal_topic.labour"),
    "other": N_("choice.legal_topic.other"),
    "property": N_("choice.legal_topic.property"),
    "social": N_("choice.legal_topic.social"),
}

# A form field's name in the summary.
FIELD: Final[Mapping[str, str]] = {
    "address": N_("field.address"),
    "anonymous": N_("field.anonymous"),
    "appeal_type": N_("field.appeal_type"),
    "body": N_("field.body"),
    "category": N_("field.category"),
    "contact": N_("field.contact"),
    "full_name": N_("field.full_name"),
    "legal_topic": N_("field.legal_topic"),
    "urgent": N_("field.urgent"),
    "urgent_reason": N_("field.urgent_reason"),
}

# A form step's prompt, when its kind has no prompt of its own.
FORM_PROMPT: Final[Mapping[str, str]] = {
    "address": N_("form.address"),
    "anonymous": N_("form.anonymous"),
    "appeal_type": N_("form.appeal_type"),
    "attachments": N_("form.attachments"),
    "body": N_("form.body"),
    "category": N_("form.category"),
    "contact": N_("form.contact"),
    "full_name": N_("form.full_name"),
    "legal_topic": N_("form.legal_topic"),
    "urgent": N_("form.urgent"),
    "urgent_reason": N_("form.urgent_reason"),
}

# Send a free-text draft as a ticket of a kind.
FREETEXT_AS: Final[Mapping[str, str]] = {
    "appeal": N_("freetext.as.appeal"),
    "feedback": N_("freetext.as.feedback"),
    "info_request": N_("freetext.as.info_request"),
}

# Answers to small talk.
FREETEXT_SMALLTALK: Final[Mapping[str, str]] = {
    "emoji": N_("freetext.smalltalk.emoji"),
    "greeting": N_("freetext.smalltalk.greeting"),
    "thanks": N_("freetext.smalltalk.thanks"),
}

# A messenger's name in the linking texts.
LINK_CHANNEL: Final[Mapping[str, str]] = {
    "telegram": N_("link.channel.telegram"),
    "viber": N_("link.channel.viber"),
}

# A kind of file in the media answers.
MEDIA_FILE: Final[Mapping[str, str]] = {
    "animation": N_("media.file.animation"),
    "audio": N_("media.file.audio"),
    "document": N_("media.file.document"),
    "photo": N_("media.file.photo"),
    "video": N_("media.file.video"),
    "video_note": N_("media.file.video_note"),
    "voice": N_("media.file.voice"),
}

# A kind of attachment in a resident's timeline.
MY_ATTACHMENT: Final[Mapping[str, str]] = {
    "animation": N_("my.attachment.animation"),
    "audio": N_("my.attachment.audio"),
    "document": N_("my.attachment.document"),
    "location": N_("my.attachment.location"),
    "photo": N_("my.attachment.photo"),
    "video": N_("my.attachment.video"),
    "video_note": N_("my.attachment.video_note"),
    "voice": N_("my.attachment.voice"),
}

# Why a rating was not taken.
RATING_ERROR: Final[Mapping[str, str]] = {
    "already_rated": N_("rating.error.already_rated"),
    "bad_rating": N_("rating.error.bad_rating"),
    "not_closed": N_("rating.error.not_closed"),
}

# The closure answer was already given.
CLOSURE_ALREADY: Final[Mapping[str, str]] = {
    "not_resolved": N_("closure.already.not_resolved"),
    "resolved": N_("closure.already.resolved"),
}

# Buttons: how to follow up a closed ticket.
CLOSURE_BTN: Final[Mapping[str, str]] = {
    "complaint": N_("closure.btn.complaint"),
    "new_request": N_("closure.btn.new_request"),
    "no": N_("closure.btn.no"),
    "not_now": N_("closure.btn.not_now"),
    "repeated": N_("closure.btn.repeated"),
    "yes": N_("closure.btn.yes"),
}

# The resident's answer on a staff card.
CLOSURE_CARD_RESOLUTION: Final[Mapping[str, str]] = {
    "not_resolved": N_("closure.card.resolution.not_resolved"),
    "resolved": N_("closure.card.resolution.resolved"),
    "waiting": N_("closure.card.resolution.waiting"),
}

# A ticket's events in the timeline.
CLOSURE_EVENT: Final[Mapping[str, str]] = {
    "answered": N_("closure.event.answered"),
    "closed": N_("closure.event.closed"),
    "extended": N_("closure.event.extended"),
    "handed_over": N_("closure.event.handed_over"),
    "not_resolved": N_("closure.event.not_resolved"),
    "received": N_("closure.event.received"),
    "refiled": N_("closure.event.refiled"),
    "refused": N_("closure.event.refused"),
    "reopened": N_("closure.event.reopened"),
    "resolved": N_("closure.event.resolved"),
    "taken": N_("closure.event.taken"),
}

# How a ticket is linked to an earlier one.
CLOSURE_LINK: Final[Mapping[str, str]] = {
    "complaint": N_("closure.link.complaint"),
    "new_request": N_("closure.link.new_request"),
    "repeated": N_("closure.link.repeated"),
}

# What a resident may do after closure, by kind.
CLOSURE_OFFER: Final[Mapping[str, str]] = {
    "appeal": N_("closure.offer.appeal"),
    "appeal_late": N_("closure.offer.appeal_late"),
    "info_request": N_("closure.offer.info_request"),
}

# The prompt for the text of a follow-up.
CLOSURE_REFILE_BODY: Final[Mapping[str, str]] = {
    "complaint": N_("closure.refile.body.complaint"),
    "new_request": N_("closure.refile.body.new_request"),
    "repeated": N_("closure.refile.body.repeated"),
}

# The introduction of a follow-up.
CLOSURE_REFILE_INTRO: Final[Mapping[str, str]] = {
    "complaint": N_("closure.refile.intro.complaint"),
    "new_request": N_("closure.refile.intro.new_request"),
    "repeated": N_("closure.refile.intro.repeated"),
}

# The resident's answer, told to staff.
CLOSURE_STAFF: Final[Mapping[str, str]] = {
    "not_resolved": N_("closure.staff.not_resolved"),
    "refiled": N_("closure.staff.refiled"),
    "reopened": N_("closure.staff.reopened"),
    "resolved": N_("closure.staff.resolved"),
}

# What staff may tell about follow-ups, by kind.
CLOSURE_STAFF_OFFER: Final[Mapping[str, str]] = {
    "appeal": N_("closure.staff.offer.appeal"),
    "info_request": N_("closure.staff.offer.info_request"),
}

# A messenger's name in news targeting and poll results.
NEWS_CHANNEL: Final[Mapping[str, str]] = {
    "telegram": N_("news.channel.telegram"),
    "viber": N_("news.channel.viber"),
}

# The news composer's prompts.
NEWS_PROMPT: Final[Mapping[str, str]] = {
    "compose": N_("news.prompt.compose"),
    "done": N_("news.prompt.done"),
    "text": N_("news.prompt.text"),
    "time": N_("news.prompt.time"),
}

# The poll composer's prompts.
POLL_PROMPT: Final[Mapping[str, str]] = {
    "closes": N_("poll.prompt.closes"),
    "compose": N_("poll.prompt.compose"),
    "done": N_("poll.prompt.done"),
    "time": N_("poll.prompt.time"),
}

# A broadcast's status.
NEWS_STATUS: Final[Mapping[str, str]] = {
    "cancelled": N_("news.status.cancelled"),
    "draft": N_("news.status.draft"),
    "finished": N_("news.status.finished"),
    "pending_approval": N_("news.status.pending_approval"),
    "scheduled": N_("news.status.scheduled"),
    "sending": N_("news.status.sending"),
}

# Why a time was not taken.
NEWS_TIME: Final[Mapping[str, str]] = {
    "format": N_("news.time.format"),
    "past": N_("news.time.past"),
    "too_far": N_("news.time.too_far"),
}

# How to appeal a decision, by kind.
NOTICE_APPEAL_HOW: Final[Mapping[str, str]] = {
    "appeal": N_("notice.appeal_how.appeal"),
    "feedback": N_("notice.appeal_how.feedback"),
    "info_request": N_("notice.appeal_how.info_request"),
    "legal_aid": N_("notice.appeal_how.legal_aid"),
}

# The extension notice, by kind.
NOTICE_EXTENDED: Final[Mapping[str, str]] = {
    "appeal": N_("notice.extended.appeal"),
    "feedback": N_("notice.extended.feedback"),
    "info_request": N_("notice.extended.info_request"),
    "legal_aid": N_("notice.extended.legal_aid"),
}

# A ticket's kind in a notice's subject.
NOTICE_SUBJECT: Final[Mapping[str, str]] = {
    "appeal": N_("notice.subject.appeal"),
    "feedback": N_("notice.subject.feedback"),
    "info_request": N_("notice.subject.info_request"),
    "legal_aid": N_("notice.subject.legal_aid"),
}

# An appeal's term in a notice.
NOTICE_TERM: Final[Mapping[str, str]] = {
    "simple": N_("notice.term.simple"),
    "standard": N_("notice.term.standard"),
}

# What a spike is about.
SPIKE_WHAT: Final[Mapping[str, str]] = {
    "category": N_("spike.what.category"),
    "district": N_("spike.what.district"),
}

# Appeal types on staff cards.
STAFF_APPEAL_TYPE: Final[Mapping[str, str]] = {
    "application": N_("staff.appeal_type.application"),
    "complaint": N_("staff.appeal_type.complaint"),
    "proposal": N_("staff.appeal_type.proposal"),
}

# Kinds of attachment on staff cards.
STAFF_ATTACHMENT: Final[Mapping[str, str]] = {
    "animation": N_("staff.attachment.animation"),
    "audio": N_("staff.attachment.audio"),
    "document": N_("staff.attachment.document"),
    "location": N_("staff.attachment.location"),
    "photo": N_("staff.attachment.photo"),
    "video": N_("staff.attachment.video"),
    "video_note": N_("staff.attachment.video_note"),
    "voice": N_("staff.attachment.voice"),
}

# Categories on staff cards and in stats.
STAFF_CATEGORY: Final[Mapping[str, str]] = {
    "consumer": N_("staff.category.consumer"),
    "council_work": N_("staff.category.council_work"),
    "family": N_("staff.category.family"),
    "housing": N_("staff.category.housing"),
    "improvement": N_("staff.category.improvement"),
    "labour": N_("staff.category.labour"),
    "other": N_("staff.category.other"),
    "property": N_("staff.category.property"),
    "roads_transport": N_("staff.category.roads_transport"),
    "social": N_("staff.category.social"),
}

# Messengers on staff cards and in stats.
STAFF_CHANNEL: Final[Mapping[str, str]] = {
    "open311": N_("staff.channel.open311"),
    "telegram": N_("staff.channel.telegram"),
    "viber": N_("staff.channel.viber"),
}

# Why a staff action was refused (storage error codes).
STAFF_ERROR: Final[Mapping[str, str]] = {
    "already_at_maximum": N_("staff.error.already_at_maximum"),
    "already_extended": N_("staff.error.already_extended"),
    "already_rated": N_("staff.error.already_rated"),
    "already_taken": N_("staff.error.already_taken"),
    "bad_category": N_("staff.error.bad_category"),
    "bad_ground": N_("staff.error.bad_ground"),
    "bad_queue": N_("staff.error.bad_queue"),
    "bad_rating": N_("staff.error.bad_rating"),
    "bad_term": N_("staff.error.bad_term"),
    "not_closed": N_("staff.error.not_closed"),
    "not_found": N_("staff.error.not_found"),
    "not_open": N_("staff.error.not_open"),
    "same_category": N_("staff.error.same_category"),
    "same_queue": N_("staff.error.same_queue"),
}

# Why a ticket cannot be extended.
STAFF_EXTEND_REFUSED: Final[Mapping[str, str]] = {
    "already_at_maximum": N_("staff.extend.refused.already_at_maximum"),
    "not_extendable": N_("staff.extend.refused.not_extendable"),
    "notice_period_over": N_("staff.extend.refused.notice_period_over"),
    "urgent": N_("staff.extend.refused.urgent"),
}

# Refusal grounds on staff cards and buttons.
STAFF_GROUND: Final[Mapping[str, str]] = {
    "anonymous": N_("staff.ground.anonymous"),
    "incomplete": N_("staff.ground.incomplete"),
    "not_actionable": N_("staff.ground.not_actionable"),
    "not_competent": N_("staff.ground.not_competent"),
    "not_holder": N_("staff.ground.not_holder"),
    "not_legal_aid": N_("staff.ground.not_legal_aid"),
    "repeated": N_("staff.ground.repeated"),
    "restricted": N_("staff.ground.restricted"),
    "unpaid_costs": N_("staff.ground.unpaid_costs"),
}

# Ticket kinds on staff cards.
STAFF_KIND: Final[Mapping[str, str]] = {
    "appeal": N_("staff.kind.appeal"),
    "feedback": N_("staff.kind.feedback"),
    "info_request": N_("staff.kind.info_request"),
    "legal_aid": N_("staff.kind.legal_aid"),
}

# Ticket statuses on staff cards.
STAFF_STATUS: Final[Mapping[str, str]] = {
    "answered": N_("staff.status.answered"),
    "closed": N_("staff.status.closed"),
    "in_progress": N_("staff.status.in_progress"),
    "new": N_("staff.status.new"),
    "refused": N_("staff.status.refused"),
}

# Appeal terms on staff cards.
STAFF_TERM: Final[Mapping[str, str]] = {
    "simple": N_("staff.term.simple"),
    "standard": N_("staff.term.standard"),
}

# What an export holds.
STATS_EXPORT_KIND: Final[Mapping[str, str]] = {
    "polls": N_("stats.export.kind.polls"),
    "residents": N_("stats.export.kind.residents"),
    "tickets": N_("stats.export.kind.tickets"),
}

# A refusal ground in the notice, by (kind, ground).
NOTICE_GROUND: Final[Mapping[tuple[str, str], str]] = {
    ("appeal", "anonymous"): N_("notice.ground.appeal.anonymous"),
    ("appeal", "incomplete"): N_("notice.ground.appeal.incomplete"),
    ("appeal", "not_competent"): N_("notice.ground.appeal.not_competent"),
    ("appeal", "repeated"): N_("notice.ground.appeal.repeated"),
    ("feedback", "not_actionable"): N_("notice.ground.feedback.not_actionable"),
    ("info_request", "incomplete"): N_("notice.ground.info_request.incomplete"),
    ("info_request", "not_holder"): N_("notice.ground.info_request.not_holder"),
    ("info_request", "restricted"): N_("notice.ground.info_request.restricted"),
    ("info_request", "unpaid_costs"): N_("notice.ground.info_request.unpaid_costs"),
    ("legal_aid", "incomplete"): N_("notice.ground.legal_aid.incomplete"),
    ("legal_aid", "not_legal_aid"): N_("notice.ground.legal_aid.not_legal_aid"),
}

# A form step's prompt of one kind, by (kind, step); the intro is ``FORM_INTRO``.
FORM_KIND_PROMPT: Final[Mapping[tuple[str, str], str]] = {
    ("feedback", "body"): N_("form.feedback.body"),
    ("info_request", "body"): N_("form.info_request.body"),
    ("info_request", "contact"): N_("form.info_request.contact"),
    ("legal_aid", "body"): N_("form.legal_aid.body"),
}

# A form's introduction, by kind.
FORM_INTRO: Final[Mapping[str, str]] = {
    "appeal": N_("form.appeal.intro"),
    "feedback": N_("form.feedback.intro"),
    "info_request": N_("form.info_request.intro"),
    "legal_aid": N_("form.legal_aid.intro"),
}

# A choice's label, by the form step that offers it (the step's key).
CHOICES: Final[Mapping[str, Mapping[str, str]]] = {
    "category": CHOICE_CATEGORY,
    "appeal_type": CHOICE_APPEAL_TYPE,
    "legal_topic": CHOICE_LEGAL_TOPIC,
}

# A poll's own progress texts in place of the news ones (the others are shared).
POLL_PROGRESS: Final[Mapping[str, str]] = {
    N_("news.progress.live"): N_("poll.progress.live"),
    N_("news.progress.final"): N_("poll.progress.final"),
    N_("news.progress.final_cancelled"): N_("poll.progress.final_cancelled"),
}


# The web desk's names of staff roles.
DESK_ROLE = {
    "admin": N_("desk.role.admin"),
    "editor": N_("desk.role.editor"),
    "operator": N_("desk.role.operator"),
    "head": N_("desk.role.head"),
}

# An incident's status as residents read it (storage.incidents.IncidentStatus).
INCIDENT_STATUS: Final[Mapping[str, str]] = {
    "investigating": N_("incident.status.investigating"),
    "working": N_("incident.status.working"),
    "resolved": N_("incident.status.resolved"),
}

# The tone of a media mention (media monitoring's digest).
MEDIA_TONE: Final[Mapping[str, str]] = {
    "positive": N_("media.tone.positive"),
    "neutral": N_("media.tone.neutral"),
    "negative": N_("media.tone.negative"),
}

# Staff decisions on a consultation comment (storage.consultations.Decision).
CONSULT_DECISION: Final[Mapping[str, str]] = {
    "accepted": N_("consult.decision.accepted"),
    "partly": N_("consult.decision.partly"),
    "rejected": N_("consult.decision.rejected"),
}

# Kinds of civil-society organisation (storage.organisations.OrganisationKind).
ORGANISATION_KIND: Final[Mapping[str, str]] = {
    "initiative": N_("org.kind.initiative"),
    "ngo": N_("org.kind.ngo"),
    "party": N_("org.kind.party"),
    "religious": N_("org.kind.religious"),
}

# Where a consultation stands (storage.consultations.ConsultationStatus).
CONSULT_STATUS: Final[Mapping[str, str]] = {
    "closed": N_("desk.consult.status.closed"),
    "draft": N_("desk.consult.status.draft"),
    "open": N_("desk.consult.status.open"),
}
