"""The screens of resident conversations, as ``Reply`` values (rendering only, no state)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from handlers import actions as act
from messaging import labels
from messaging.contract import Button, KeyboardKind, Reply
from messaging.i18n import Catalog, Markup
from storage.models import Resident
from storage.vocabulary import POLICY_VERSION, Digest, District, Topic


def _rows(buttons: Sequence[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def summary(catalog: Catalog, resident: Resident) -> Markup:
    lang = resident.language
    topics = [
        catalog.text(lang, labels.TOPIC[t.value]) for t in Topic if t.value in resident.topic_codes
    ]
    yes, no = catalog.text(lang, "summary.yes"), catalog.text(lang, "summary.no")
    return catalog.text(
        lang,
        "summary",
        language=catalog.text(lang, "summary.language"),
        topics=Markup(", ".join(topics)) if topics else catalog.text(lang, "summary.none"),
        district=catalog.text(lang, labels.DISTRICT[resident.district])
        if resident.district
        else catalog.text(lang, "summary.none"),
        digest=catalog.text(lang, labels.DIGEST[resident.digest]),
        consent=yes if resident.has_consent else no,
        subscribed=yes if resident.subscribed else no,
    )


def consent(catalog: Catalog, lang: str, *, with_greeting: bool) -> Reply:
    text = catalog.text(lang, "consent.ask")
    if with_greeting:
        # One message: a Viber conversation_started may be answered with a single message only.
        text = Markup(catalog.text(lang, "greeting") + "\n\n" + text)
    return Reply(
        text=text,
        buttons=(
            (Button(catalog.text(lang, "btn.consent_yes"), act.CONSENT_YES),),
            (Button(catalog.text(lang, "btn.policy"), act.CONSENT_POLICY),),
            (Button(catalog.text(lang, "btn.consent_no"), act.CONSENT_NO),),
        ),
    )


def policy(catalog: Catalog, lang: str) -> Reply:
    return Reply(text=catalog.text(lang, "consent.policy", version=POLICY_VERSION))


def language(catalog: Catalog, lang: str) -> Reply:
    return Reply(
        text=catalog.text(lang, "language.ask"),
        buttons=(
            (
                Button(catalog.text(lang, "btn.lang_uk"), act.with_arg(act.LANGUAGE, "uk")),
                Button(catalog.text(lang, "btn.lang_en"), act.with_arg(act.LANGUAGE, "en")),
            ),
        ),
    )


def topics(catalog: Catalog, lang: str, selected: Iterable[str], *, replace: bool = False) -> Reply:
    chosen = set(selected)
    buttons = [
        Button(
            ("✅ " if topic.value in chosen else "▫️ ")
            + catalog.text(lang, labels.TOPIC[topic.value]),
            act.with_arg(act.TOPIC_TOGGLE, topic.value),
        )
        for topic in Topic
    ]
    return Reply(
        text=catalog.text(lang, "topics.ask"),
        buttons=(*_rows(buttons, 1), (Button(catalog.text(lang, "btn.done"), act.TOPICS_DONE),)),
        replace=replace,
    )


def district(catalog: Catalog, lang: str) -> Reply:
    buttons = [
        Button(catalog.text(lang, labels.DISTRICT[d.value]), act.with_arg(act.DISTRICT, d.value))
        for d in District
    ]
    return Reply(text=catalog.text(lang, "district.ask"), buttons=_rows(buttons, 2))


def digest(catalog: Catalog, lang: str) -> Reply:
    buttons = [
        Button(catalog.text(lang, labels.DIGEST[d.value]), act.with_arg(act.DIGEST, d.value))
        for d in Digest
    ]
    return Reply(text=catalog.text(lang, "digest.ask"), buttons=_rows(buttons, 3))


def settings(catalog: Catalog, resident: Resident) -> Reply:
    lang = resident.language
    consent_key = "settings.consent_withdraw" if resident.has_consent else "settings.consent_give"
    return Reply(
        text=catalog.text(lang, "settings.title", summary=summary(catalog, resident)),
        buttons=(
            (
                Button(catalog.text(lang, "settings.language"), act.SETTINGS_LANGUAGE),
                Button(catalog.text(lang, "settings.topics"), act.SETTINGS_TOPICS),
            ),
            (
                Button(catalog.text(lang, "settings.district"), act.SETTINGS_DISTRICT),
                Button(catalog.text(lang, "settings.digest"), act.SETTINGS_DIGEST),
            ),
            (Button(catalog.text(lang, consent_key), act.SETTINGS_CONSENT),),
            (Button(catalog.text(lang, "settings.link"), act.LINK),),
            (Button(catalog.text(lang, "btn.back"), act.SETTINGS_BACK),),
        ),
    )


# Main-menu items as (catalog key, action); the reply keyboard sends the label as text.
MENU_ITEMS = (
    ("menu.file", act.FILE),
    ("menu.mytickets", act.MY_LIST),
    ("menu.news", act.MENU_NEWS),
    ("menu.settings", act.MENU_SETTINGS),
    ("menu.help", act.MENU_HELP),
    ("menu.policy", act.MENU_POLICY),
    ("menu.stop", act.MENU_STOP),
    ("menu.subscribe", act.MENU_SUBSCRIBE),
)


def main_menu(catalog: Catalog, resident: Resident, text: Markup | None = None) -> Reply:
    lang = resident.language
    toggle = (
        Button(catalog.text(lang, "menu.stop"), act.MENU_STOP)
        if resident.subscribed
        else Button(catalog.text(lang, "menu.subscribe"), act.MENU_SUBSCRIBE)
    )
    return Reply(
        text=text or catalog.text(lang, "menu.prompt"),
        buttons=(
            (
                Button(catalog.text(lang, "menu.file"), act.FILE),
                Button(catalog.text(lang, "menu.mytickets"), act.MY_LIST),
            ),
            (
                Button(catalog.text(lang, "menu.news"), act.MENU_NEWS),
                Button(catalog.text(lang, "menu.settings"), act.MENU_SETTINGS),
            ),
            (
                Button(catalog.text(lang, "menu.help"), act.MENU_HELP),
                Button(catalog.text(lang, "menu.policy"), act.MENU_POLICY),
            ),
            (toggle,),
        ),
        keyboard=KeyboardKind.MENU,
    )
