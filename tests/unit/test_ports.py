import pytest

from stratus.errors import InvalidToken
from stratus.ports.table import decode_token, encode_token


def test_token_round_trip_and_binding() -> None:
    t = encode_token("todos", "alice", "0042")
    assert decode_token(t, "todos", "alice") == "0042"
    with pytest.raises(InvalidToken, match="another query"):
        decode_token(t, "todos", "bob")
    with pytest.raises(InvalidToken, match="another query"):
        decode_token(t, "other", "alice")
    for junk in ("", "!!!", "e30", "WzFd"):
        with pytest.raises(InvalidToken):
            decode_token(junk, "todos", "alice")
