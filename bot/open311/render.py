"""JSON and XML of every answer, from plain rows (lists of ordered dicts).

XML is the spec's required format: the root and item element names are the spec's; a value
of None is an empty element, booleans are ``true``/``false``, a list value (a service
definition's attributes) is an element of its own with one child per item."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

from aiohttp import web

Row = Mapping[str, Any]
# The spec's root and item elements of each kind of answer.
SERVICES = ("services", "service")
REQUESTS = ("service_requests", "request")
UPDATES = ("service_requests_updates", "request_update")
ERRORS = ("errors", "error")
JSON_TYPE = "application/json"
XML_TYPE = "text/xml"


def respond(
    fmt: str, rows: Sequence[Row], names: tuple[str, str], *, status: int = 200
) -> web.Response:
    """``rows`` as a JSON list, or as XML ``<root><item>…</item>…</root>``."""
    if fmt == "xml":
        root = ElementTree.Element(names[0])
        for row in rows:
            _fill(ElementTree.SubElement(root, names[1]), row)
        return xml_response(root, status=status)
    return json_response(list(rows), status=status)


def respond_one(fmt: str, row: Row, root_name: str) -> web.Response:
    """One object (a service definition): a JSON object, or XML ``<root_name>…</root_name>``."""
    if fmt == "xml":
        root = ElementTree.Element(root_name)
        _fill(root, row)
        return xml_response(root)
    return json_response(dict(row))


def json_response(data: Any, *, status: int = 200) -> web.Response:
    body = json.dumps(data, ensure_ascii=False)
    return web.Response(text=body, status=status, content_type=JSON_TYPE, charset="utf-8")


def xml_response(root: ElementTree.Element, *, status: int = 200) -> web.Response:
    body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    # ElementTree writes the declaration with single quotes; the spec shows double quotes.
    body = body.replace(
        b"<?xml version='1.0' encoding='utf-8'?>", b'<?xml version="1.0" encoding="UTF-8"?>', 1
    )
    return web.Response(body=body, status=status, content_type=XML_TYPE, charset="utf-8")


def _fill(element: ElementTree.Element, row: Row) -> None:
    for name, value in row.items():
        child = ElementTree.SubElement(element, name)
        if isinstance(value, list):
            for item in value:
                _fill(ElementTree.SubElement(child, "attribute"), item)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)
