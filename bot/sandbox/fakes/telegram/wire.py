"""Reading request bodies the way the Bot API accepts them (query, form, JSON, multipart)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import BodyPartReader, MultipartReader

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.records import ApiError, UploadedFile, bad_request


async def read_multipart(reader: MultipartReader) -> tuple[JSON, dict[str, UploadedFile]]:
    fields: JSON = {}
    files: dict[str, UploadedFile] = {}
    async for part in reader:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        data = await part.read(decode=True)
        if part.filename is not None:
            files[part.name] = UploadedFile(
                filename=part.filename,
                content_type=part.headers.get("Content-Type", "application/octet-stream"),
                data=bytes(data),
            )
        else:
            fields[part.name] = bytes(data).decode(part.get_charset("utf-8"))
    return fields, files


def parse_plain_body(mime: str, body: bytes) -> JSON:
    if not body:
        return {}
    if mime == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON object") from exc
        if not isinstance(decoded, dict):
            raise bad_request("JSON object expected")
        return decoded
    if mime in {"application/x-www-form-urlencoded", ""}:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return {}


async def read_webhook_reply(resp: aiohttp.ClientResponse) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parse a webhook answer that may carry a Bot API method call."""
    mime = resp.content_type.lower()
    if mime == "multipart/form-data":
        return await read_multipart(MultipartReader(resp.headers, resp.content))
    body = await resp.read()
    try:
        return parse_plain_body(mime, body), {}
    except ApiError:
        return {}, {}
