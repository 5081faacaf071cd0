"""User metadata as S3 returns it: printable US-ASCII as is, anything else as one RFC 2047 word."""

from __future__ import annotations

import email.header

import pytest

from stratus.local.services.s3.wire_objects import encode_metadata


@pytest.mark.parametrize(("value", "sent"), [
    ("plain text", "plain text"), ("a=b?c_d", "a=b?c_d"), ("", ""),
    ("\x04mymeta", "=?UTF-8?Q?=04mymeta?="),  # S3's own answer (the s3-tests suite pins it)
    ("caf\u00e9", "=?UTF-8?Q?caf=C3=A9?="),  # mostly ASCII: Q
    ("\u65e5\u672c\u8a9e", "=?UTF-8?B?5pel5pys6Kqe?="),  # mostly not: B
    ("a\r\nSet-Cookie: x=y", "=?UTF-8?Q?a=0D=0ASet-Cookie=3A_x=3Dy?="),
])
def test_metadata_goes_out_mail_safe(value: str, sent: str) -> None:
    assert encode_metadata(value) == sent
    assert sent.isascii() and sent.isprintable()
    if sent != value:
        (raw, charset), = email.header.decode_header(sent)
        assert raw.decode(charset) == value
