"""Cognito's SRP, held against a worked example computed independently: pycognito's ``AWSSRP`` (the client side
many apps use) with fixed random values, on the same salt, password and exchange."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from pycognito.aws_srp import AWSSRP

from stratus.local.services.cognito_idp import srp

POOL_ID = "us-east-1_AbCdEf123"
USER_ID = "5b1c7a8e-2d4f-4c8e-9a1b-0c2d3e4f5a6b"
PASSWORD = "Passw0rd-1"
SALT = "5fb0c7d4a96a4ba1c2f9e3d8b7a6c5d4"


def _client(small_a: int) -> AWSSRP:
    c = AWSSRP(USER_ID, PASSWORD, POOL_ID, "client-id", client=object())
    c.small_a_value = small_a
    c.large_a_value = c.calculate_a()
    return c


@pytest.mark.parametrize(("small_a", "small_b"), [(0x1234567890ABCDEF * 7919, 0xFEDCBA0987654321 * 104729),
                                                   (2 ** 1023 + 12345, 2 ** 255 + 678910), (3, 6)])
def test_both_sides_derive_one_key_and_one_signature(monkeypatch: pytest.MonkeyPatch, small_a: int,
                                                     small_b: int) -> None:
    client = _client(small_a)
    v = srp.verifier(POOL_ID.split("_")[1], USER_ID, PASSWORD, SALT)
    monkeypatch.setattr(srp.secrets, "randbits", lambda _n: small_b)
    server = srp.Exchange(client.large_a_value, v)
    assert server.b == small_b | 2
    assert server.big_b == (srp.K * v + pow(2, server.b, srp.N)) % srp.N
    key = client.get_password_authentication_key(USER_ID, PASSWORD, server.big_b, SALT)
    assert server.key() == bytes(key)
    block = b"an opaque secret block"
    when = dt.datetime(2026, 11, 3, 4, 5, 6, tzinfo=dt.UTC)
    stamp = AWSSRP.get_cognito_formatted_timestamp(when)
    assert stamp == srp.timestamp(when.timestamp()) == "Tue Nov 3 04:05:06 UTC 2026"
    assert srp.parse_timestamp(stamp) == when.timestamp()
    # the client's whole answer, as pycognito sends it, carries the signature the server expects
    monkeypatch.setattr("pycognito.aws_srp.datetime", _Frozen(when))
    answer = client.process_challenge({"USERNAME": USER_ID, "USER_ID_FOR_SRP": USER_ID, "SALT": SALT,
                                       "SRP_B": f"{server.big_b:x}",
                                       "SECRET_BLOCK": base64.b64encode(block).decode()}, {"USERNAME": USER_ID})
    assert answer["TIMESTAMP"] == stamp
    assert base64.b64decode(answer["PASSWORD_CLAIM_SIGNATURE"]) == server.proof(POOL_ID.split("_")[1], USER_ID,
                                                                               block, stamp)
    wrong = AWSSRP(USER_ID, "wrong-Passw0rd", POOL_ID, "client-id", client=object())
    wrong.small_a_value, wrong.large_a_value = client.small_a_value, client.large_a_value
    assert bytes(wrong.get_password_authentication_key(USER_ID, "wrong-Passw0rd", server.big_b, SALT)) != server.key()


def test_a_worthless_public_value_is_refused() -> None:
    for bad in (0, srp.N, 2 * srp.N):
        with pytest.raises(ValueError):
            srp.Exchange(bad, 12345)


def test_pad_hex_as_the_sdks_pad() -> None:
    assert srp.pad_hex(0xABC) == "0abc" and srp.pad_hex(0x8F) == "008f" and srp.pad_hex(0x7F) == "7f"
    assert srp.pad_hex("fff") == "0fff"


class _Frozen:
    """``datetime`` as pycognito reads it, stopped at one moment."""

    def __init__(self, when: dt.datetime) -> None:
        self.datetime = type("datetime", (), {"utcnow": staticmethod(lambda: when.replace(tzinfo=None))})


def test_salts_read_alike_as_text_and_as_a_number() -> None:
    """The JavaScript SDKs parse the salt as a number before padding it: a salt must come back the same."""
    for n in (0, 1, 0x7F << 120, 2 ** 128 - 1, 0x0012 << 112):
        salt = srp.salt_of(n)
        assert srp.pad_hex(int(salt, 16)) == salt
    assert all(srp.pad_hex(int(s, 16)) == s for s in (srp.new_salt() for _ in range(2000)))
