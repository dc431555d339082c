"""The /media route over real HTTP: staff files relayed to a Viber resident are served through
signed links that expire (the bot's injected clock), whose expiry cannot be moved, which the
access log does not record, and which a browser downloads instead of rendering when the file
could be a page."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from handlers.staff.media import LINK_TTL
from tests.staff_world import OPERATOR, VIBER_RESIDENT, World, card_of, staff_world

pytestmark = pytest.mark.migrated_database

PAGE = b"<html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


async def _get(url: str) -> tuple[int, CIMultiDictProxy[str], bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers, await response.read()


async def _viber_ticket(world: World) -> int:
    assert world.viber is not None
    world.viber.user(VIBER_RESIDENT, name="Марія", subscribed=True)
    ticket_id = await world.file(channel="viber", external_id=VIBER_RESIDENT, name="Марія")
    return int(card_of(world, await world.ticket(ticket_id))["message_id"])


def _media(world: World, kind: str) -> str:
    assert world.viber is not None
    sent = [m for m in world.viber.messages(VIBER_RESIDENT) if m["type"] == kind]
    return str(sent[-1]["media"])


async def test_a_link_serves_its_file_until_it_expires(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with staff_world(database_url, forum=False, viber=True) as world:
        card = await _viber_ticket(world)
        update = await world.telegram.send_photo(OPERATOR, world.chat_id, reply_to=card)
        file_id = update["message"]["photo"][-1]["file_id"]
        url = _media(world, "picture")
        token = url.rsplit("/", 1)[1]

        status, headers, body = await _get(url)
        assert status == 200 and body == world.telegram.file_content(file_id)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Disposition" not in headers  # a photo is shown, not downloaded
        assert headers["Cache-Control"] == "private, max-age=3600"

        # The expiry is signed with the file: a link cannot be extended without the key.
        encoded, expiry, mac = token.split(".")
        extended = url.replace(token, f"{encoded}.{int(expiry) + 30 * 86400}.{mac}")
        status, headers, _ = await _get(extended)
        assert status == 404 and headers["X-Content-Type-Options"] == "nosniff"

        # Almost a day later it still opens (and may be kept no longer than the link lives);
        # a day later it is gone.
        world.clock.advance(LINK_TTL - timedelta(minutes=1))
        status, headers, _ = await _get(url)
        assert status == 200 and headers["Cache-Control"] in {
            "private, max-age=59",
            "private, max-age=60",
        }
        world.clock.advance(timedelta(minutes=1))
        status, headers, _ = await _get(url)
        assert status == 410 and headers["X-Content-Type-Options"] == "nosniff"

        # A fresh link for the same file works again.
        await world.telegram.send_photo(OPERATOR, world.chat_id, reply_to=card)
        assert (await _get(_media(world, "picture")))[0] == 200

    # Every fetch was logged, none with its signature (nor any part of the token).
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    media = [line for line in lines if "/media/" in line]
    assert len(media) == 5, lines
    assert all("/media/REDACTED" in line for line in media)
    assert not any(part in line for line in lines for part in (mac, encoded, token))


async def test_files_a_browser_could_render_are_downloads(tmp_path: Path) -> None:
    # The headers do not depend on the database: SQLite only.
    async with staff_world(
        f"sqlite+aiosqlite:///{tmp_path / 'citybot.db'}", forum=False, viber=True
    ) as world:
        card = await _viber_ticket(world)
        for file_name, content in (
            ("page.html", PAGE),
            ("drawing.svg", SVG),
            ("data.xml", b"<?xml version='1.0'?><a/>"),
            ("notes", b"<html>no extension: octet-stream</html>"),
        ):
            await world.telegram.send_document(
                OPERATOR, world.chat_id, file_name=file_name, content=content, reply_to=card
            )
            status, headers, body = await _get(_media(world, "file"))
            assert status == 200 and body == content, file_name
            assert headers["Content-Disposition"].startswith("attachment;"), file_name
            assert headers["X-Content-Type-Options"] == "nosniff"
        # A PDF is one of the types shown in place.
        await world.telegram.send_document(OPERATOR, world.chat_id, reply_to=card)
        status, headers, _ = await _get(_media(world, "file"))
        assert status == 200 and "Content-Disposition" not in headers
        assert headers["X-Content-Type-Options"] == "nosniff"
