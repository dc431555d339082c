"""A status update on its way: stored (``incident_updates``), queued for every recipient in their
language through the delivery engine (``storage.incidents.plan_update``), and, when asked for,
sent as urgent news to the subscribers of the incident's districts.

The update's broadcasts are planned in the operation's transaction and the engine is woken
after the commit: a status update to 1,000 residents costs the desk one INSERT … SELECT per
language, and the residents get it at the channels' rates, each person once.
"""

from __future__ import annotations

from handlers.staff.core import StaffCall
from handlers.staff.incidents.context import Delivered, IncidentCore
from handlers.tickets.incidents import IncidentTexts
from messaging.i18n import LANGUAGES
from storage import broadcast_lifecycle, broadcasts, incidents, planning
from storage.models import Incident
from storage.vocabulary import Topic


async def deliver_update(
    core: IncidentCore,
    call: StaffCall,
    incident: Incident,
    text: str,
    *,
    notify_district: bool,
) -> Delivered:
    """Store the update of ``incident`` (its status as it is now) and queue it."""
    update = incidents.add_update(
        call.session, incident=incident, text=text, staff_id=call.staff.id, now=call.now
    )
    await call.session.flush()
    texts = IncidentTexts(core.catalog, core.tickets.zone)
    resolved = not incidents.is_open(incident)
    by_language = {
        language: str(
            texts.resolved(language, incident, text)
            if resolved
            else texts.update(language, incident, text)
        )
        for language in LANGUAGES
    }
    buttons = (
        {language: texts.solved_buttons(language, incident.id) for language in LANGUAGES}
        if resolved
        else None
    )
    planned = await incidents.plan_update(
        call.session,
        incident_id=incident.id,
        update_id=update.id,
        title=incident.title,
        texts=by_language,
        buttons=buttons,
        default_language=core.default_language,
        created_by=call.staff.id,
        now=call.now,
    )
    update.recipients = planned.recipients
    news_id = await _district_news(core, call, incident, text) if notify_district else None
    update.news_broadcast_id = news_id
    call.later(_wake, core)
    return Delivered(update.id, planned.recipients, news_id)


async def _wake(core: IncidentCore) -> None:
    core.wake()


async def _district_news(core: IncidentCore, call: StaffCall, incident: Incident, text: str) -> int:
    """The update as urgent news to the residents of the incident's districts who take outage
    news (the whole city's for a city-wide incident). Under the two-person rule it waits for a
    second editor, as any news does."""
    language = core.default_language
    texts = IncidentTexts(core.catalog, core.tickets.zone)
    body = texts.update(language, incident, text)
    news = await broadcasts.create_broadcast(
        call.session,
        text=str(body),
        now=call.now,
        title=incident.title,
        topics=(Topic.OUTAGES.value,),
        districts=tuple(incident.districts or ()),
        urgent=True,
        created_by=call.staff.id,
    )
    news.source, news.source_ref = incidents.SOURCE, str(incident.id)
    if core.two_person:
        broadcast_lifecycle.submit(news, when=None, now=call.now)
    else:
        await planning.plan_broadcast(call.session, broadcast_id=news.id, now=call.now)
    return news.id
