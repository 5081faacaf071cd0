"""The REST-XML protocol as S3 speaks it: rendering responses and errors, parsing the few request bodies it takes.

Bodies from clients are parsed with the standard library's expat, which does not
resolve external entities; they are also size-limited by the caller.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from ...errors import ServiceError

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(t * 1000) % 1000:03d}Z"


LATEST = 253370764800.0  # 9999-01-01T00:00:00Z: a time past it could not be written back as S3 writes times


def iso_seconds(raw: str) -> float | None:
    """An ISO 8601 date and time as S3 takes them (``2030-01-01T00:00:00.000Z``; an offset counts, no offset is
    UTC), as epoch seconds; None when it is not one, or falls outside 1970 to 9999."""
    text = raw.strip()
    if not text.isascii() or "T" not in text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = when.timestamp()
    return seconds if 0 <= seconds < LATEST else None


def http_date(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def el(tag: str, value: Any) -> str:
    """One element; ``value`` may be a string, a number, a bool, or a list of already-rendered children."""
    if isinstance(value, list):
        return f"<{tag}>{''.join(value)}</{tag}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def document(root: str, children: list[str]) -> bytes:
    return (HEAD + f'<{root} xmlns="{NS}">' + "".join(children) + f"</{root}>").encode()


def error_document(code: str, message: str, request_id: str, extra: dict[str, str]) -> bytes:
    parts = [el("Code", code), el("Message", message)] + [el(k, v) for k, v in extra.items()]
    return (HEAD + "<Error>" + "".join(parts) + el("RequestId", request_id) + "</Error>").encode()


def encode_key(value: str, url: bool) -> str:
    """Keys in listings: as is, or URL-encoded with ``encoding-type=url`` (S3 keeps ``/`` unencoded)."""
    return quote(value, safe="/~") if url else value


def parse(body: bytes, root: str) -> ET.Element:
    try:
        doc = ET.fromstring(body)
    except ET.ParseError:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                          "our published schema.") from None
    if doc.tag.split("}")[-1] != root:
        raise ServiceError("MalformedXML", f"Expected a {root} document.")
    return doc


def children(node: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in node if c.tag.split("}")[-1] == tag]


def text(node: ET.Element, tag: str) -> str | None:
    found = children(node, tag)
    return (found[0].text or "") if found else None
