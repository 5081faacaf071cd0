"""Attacks on the user pool through boto3's cognito-idp: a second account for an address, guessing
confirmation codes, guessing passwords, telling accounts apart by timing, and tokens re-encoded.

Lock-outs and hourly limits are timed on the platform clock, so these run on a system of their own with a
manual clock (``--manual-clock``) and move it instead of waiting.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stratus.local.services.ses.mailers import read_outbox
from tests.conftest import PASSWORD, Clients, User, error_code, message_of


def _fails(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call()
    return error_code(exc), message_of(exc)


def _mails_to(clients: Clients, address: str) -> int:
    return sum(e.to.lower() == address.lower() for e in read_outbox(clients.system.data_dir / "outbox"))


def test_no_second_account_for_an_address_with_a_line_break(clocked: Clients) -> None:
    carol = clocked.sign_up(f"carol-{uuid.uuid4().hex[:8]}@example.com")
    mails = len(read_outbox(clocked.system.data_dir / "outbox"))
    for twin in (carol + "\n", carol + "\r\n", carol + "\nBcc: eve@example.com", carol.upper() + "\n", " " + carol):
        code, _ = _fails(lambda twin=twin: clocked.sign_up(twin))
        assert code == "InvalidParameterException", twin
    assert _fails(lambda: clocked.sign_up(carol.upper())) == ("UsernameExistsException",
                                                               "An account with the given email already exists.")
    assert len(read_outbox(clocked.system.data_dir / "outbox")) == mails  # no mail went out, to anyone
    for eml in (clocked.system.data_dir / "outbox").glob("*.eml"):
        assert b"Bcc:" not in eml.read_bytes()


def test_confirmation_codes_cannot_be_brute_forced(clocked: Clients) -> None:
    """Five wrong codes spend a code; ten wrong codes in an hour spend the user's tries, whatever is resent; five
    resends an hour are all that is mailed. The right code is refused too while the limit holds."""
    email = clocked.sign_up()
    # botocore retries LimitExceededException as throttling, with back-off: this client tries once
    idp = boto3.client("cognito-idp", endpoint_url=clocked.ep["aws_endpoint"], region_name=clocked.ep["region"],
                       verify=clocked.ep["ca_file"], config=Config(retries={"total_max_attempts": 1}))
    client = clocked.client_id

    def guess(code: str) -> tuple[str, str]:
        return _fails(lambda: idp.confirm_sign_up(ClientId=client, Username=email, ConfirmationCode=code))

    def wrong() -> str:
        return f"{(int(clocked.code(email)) + 1) % 10**6:06d}"

    answers = [guess(wrong())[0] for _ in range(6)]
    assert answers == ["CodeMismatchException"] * 5 + ["TooManyFailedAttemptsException"]
    idp.resend_confirmation_code(ClientId=client, Username=email)
    answers = [guess(wrong())[0] for _ in range(6)]
    assert answers == ["CodeMismatchException"] * 5 + ["LimitExceededException"]  # ten in the hour
    idp.resend_confirmation_code(ClientId=client, Username=email)
    assert guess(clocked.code(email))[0] == "LimitExceededException"  # the right code, within the limit
    resent = []
    for _ in range(40):  # the rest of the hour's mail, then refusals: the outbox stops growing
        try:
            idp.resend_confirmation_code(ClientId=client, Username=email)
            resent.append("sent")
        except ClientError as exc:
            resent.append(exc.response["Error"]["Code"])
    assert resent == ["sent"] * 3 + ["LimitExceededException"] * 37
    assert _mails_to(clocked, email) == 6  # the sign-up's code and five resends
    clocked.advance(3601)
    idp.resend_confirmation_code(ClientId=client, Username=email)
    idp.confirm_sign_up(ClientId=client, Username=email, ConfirmationCode=clocked.code(email))
    assert clocked.sign_in(email)["AccessToken"]


def _sign_in(clients: Clients, email: str, password: str) -> str:
    try:
        clients.sign_in(email, password)
        return "tokens"
    except ClientError as exc:
        return exc.response["Error"]["Message"]


WRONG = "Incorrect username or password."
LOCKED = "Password attempts exceeded"


def test_passwords_cannot_be_guessed_without_end(clocked: Clients) -> None:
    user = clocked.user()
    answers = [_sign_in(clocked, user.email, f"Wrong-{n}-Passw0rd") for n in range(40)]
    assert answers[:5] == [WRONG] * 5 and set(answers[5:]) == {LOCKED}
    assert _sign_in(clocked, user.email, PASSWORD) == LOCKED  # the right password does not open a lock
    assert _sign_in(clocked, user.email.upper(), PASSWORD) == LOCKED  # nor another spelling of the name
    clocked.advance(1.1)  # the first lock lasts a second
    assert _sign_in(clocked, user.email, PASSWORD) == "tokens"  # and success forgets the failures
    assert [_sign_in(clocked, user.email, "Wrong-Passw0rd") for _ in range(5)] == [WRONG] * 5


def test_every_spelling_of_a_name_shares_one_count(clocked: Clients) -> None:
    """The email in any case, and the sub (cognito:username), are one user: guesses under each add up."""
    user = clocked.user()
    spellings = [user.email, user.email.upper(), user.sub, user.email.title(), user.sub]
    assert [_sign_in(clocked, name, "Wrong-Passw0rd") for name in spellings] == [WRONG] * 5
    for name in (user.email, user.sub, user.email.upper()):
        assert _sign_in(clocked, name, PASSWORD) == LOCKED, name
    clocked.advance(1.1)
    assert _sign_in(clocked, user.sub, PASSWORD) == "tokens"


def test_guesses_sent_side_by_side_get_no_more_tries(clocked: Clients) -> None:
    """Eight wrong passwords at once, after four: one more is checked, the rest find the lock."""
    user = clocked.user()
    assert [_sign_in(clocked, user.email, "Wrong-Passw0rd") for _ in range(4)] == [WRONG] * 4
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: _sign_in(clocked, user.email, f"Wrong-{n}-Passw0rd"), range(8)))
    assert sorted(answers) == sorted([WRONG] + [LOCKED] * 7), answers


def test_guessing_names_writes_nothing_to_disk(clocked: Clients) -> None:
    """Failures of names with no account are remembered in memory (the most recent 10,000), and a name longer
    than a user name can be is refused before anything is counted."""
    data = clocked.system.data_dir

    def pool_bytes() -> int:
        return sum(p.stat().st_size for p in data.glob("userpools.db*"))
    code, _ = _fails(lambda: clocked.sign_in("x" * 129 + "@example.com", "Wrong-Passw0rd"))
    assert code == "InvalidParameterException"
    before = pool_bytes()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: _sign_in(clocked, f"{'n' * 100}-{n}@example.com", "Wrong-Passw0rd"), range(200)))
    assert pool_bytes() - before < 64 * 1024  # 200 names of 120 bytes: no row each


def test_locks_double_up_to_fifteen_minutes(clocked: Clients) -> None:
    user = clocked.user()
    for _ in range(5):
        _sign_in(clocked, user.email, "Wrong-Passw0rd")
    lock = 1.0
    for _ in range(12):  # each failure after a lock doubles it: 2, 4, ... up to 900 s
        clocked.advance(lock + 0.05)
        assert _sign_in(clocked, user.email, "Wrong-Passw0rd") == WRONG
        lock = min(lock * 2, 900)
        clocked.advance(lock - 0.2)
        assert _sign_in(clocked, user.email, PASSWORD) == LOCKED, lock
    assert lock == 900
    clocked.advance(0.3)
    assert _sign_in(clocked, user.email, PASSWORD) == "tokens"


def test_names_with_no_account_are_locked_alike(clocked: Clients) -> None:
    """The lock-out tells nobody which names have an account."""
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    user = clocked.user()
    for name in (nobody, user.email):
        assert [_sign_in(clocked, name, "Wrong-Passw0rd") for _ in range(7)] == [WRONG] * 5 + [LOCKED] * 2


def test_limits_answer_alike_for_names_with_no_account(clocked: Clients) -> None:
    """Resends and wrong codes meet the same limits, in the same order, whether or not the name has an
    (unconfirmed) account: the answers do not tell them apart."""
    idp = boto3.client("cognito-idp", endpoint_url=clocked.ep["aws_endpoint"], region_name=clocked.ep["region"],
                       verify=clocked.ep["ca_file"], config=Config(retries={"total_max_attempts": 1}))
    client = clocked.client_id

    def answer(call: Callable[[], Any]) -> str:
        try:
            call()
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    def story(name: str) -> list[str]:
        def guess() -> str:
            return answer(lambda: idp.confirm_sign_up(ClientId=client, Username=name, ConfirmationCode="000000"))

        def resend() -> str:
            return answer(lambda: idp.resend_confirmation_code(ClientId=client, Username=name))
        return ([guess() for _ in range(7)] + [resend()] + [guess() for _ in range(7)]
                + [resend() for _ in range(6)])

    real, nobody = clocked.sign_up(), f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    told = story(real)
    assert told == story(nobody)
    assert told == (["CodeMismatchException"] * 5 + ["TooManyFailedAttemptsException"] * 2 + ["ok"]
                    + ["CodeMismatchException"] * 5 + ["LimitExceededException"] * 2
                    + ["ok"] * 4 + ["LimitExceededException"] * 2)


def test_a_flood_of_other_names_does_not_reset_a_count(clocked: Clients) -> None:
    """Counts for names with no account are kept in fixed slots, not a list of the latest names: thousands of
    other names in between do not push one out, so they cannot reset it to tell it from an account's."""
    idp = boto3.client("cognito-idp", endpoint_url=clocked.ep["aws_endpoint"], region_name=clocked.ep["region"],
                       verify=clocked.ep["ca_file"], config=Config(retries={"total_max_attempts": 1},
                                                                   max_pool_connections=8))
    real, nobody = clocked.user().email, f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    for name in (real, nobody):
        assert [_sign_in(clocked, name, "Wrong-Passw0rd") for _ in range(4)] == [WRONG] * 4

    def confirm(n: int) -> None:
        with pytest.raises(ClientError):
            idp.confirm_sign_up(ClientId=clocked.client_id, Username=f"flood-{n}@example.com", ConfirmationCode="1")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(confirm, range(6000)))
    for name in (real, nobody):
        assert [_sign_in(clocked, name, "Wrong-Passw0rd") for _ in range(2)] == [WRONG, LOCKED], name


def _median_ms(call: Callable[[], Any], times: int) -> float:
    spent = []
    for _ in range(times):
        t0 = time.perf_counter()
        call()
        spent.append((time.perf_counter() - t0) * 1000)
    return statistics.median(spent)


def test_resends_take_as_long_for_accounts_as_for_none(clocked: Clients) -> None:
    """A resend to an unconfirmed account writes a mail; one to an unknown name does not: both answer alike,
    in as much time (within noise), so neither the answer nor its timing tells which names have accounts."""
    idp, client = clocked.idp, clocked.client_id
    unconfirmed = [clocked.sign_up() for _ in range(6)]
    unknown = [f"nobody-{uuid.uuid4().hex[:8]}@example.com" for _ in range(6)]
    answer = idp.resend_confirmation_code(ClientId=client, Username=unknown[0])["CodeDeliveryDetails"]
    assert answer["DeliveryMedium"] == "EMAIL" and answer["AttributeName"] == "email"
    mine, theirs = iter(unconfirmed * 3), iter(unknown * 3)
    rounds = 0
    while True:  # alternated, so both see the same machine; a noisy round is tried again, three at most
        rounds += 1
        real = _median_ms(lambda: idp.resend_confirmation_code(ClientId=client, Username=next(mine)), 6)
        none = _median_ms(lambda: idp.resend_confirmation_code(ClientId=client, Username=next(theirs)), 6)
        if abs(real - none) < max(1.0, 0.2 * max(real, none)) or rounds == 3:
            break
    assert abs(real - none) < max(1.0, 0.2 * max(real, none)), (real, none)
    assert all(_mails_to(clocked, e) == 1 + rounds for e in unconfirmed)  # the resends were real mails


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _stray_bits(part: str) -> str:
    """``part`` with an unused low bit of its last character flipped: it decodes to the same bytes."""
    assert len(part) % 4 in (2, 3)  # 4 or 2 bits of the last character are padding
    return part[:-1] + ALPHABET[ALPHABET.index(part[-1]) ^ 1]


def test_a_token_in_another_base64_spelling_is_refused(clocked: Clients) -> None:
    user: User = clocked.user()
    assert clocked.api("GET", "/todos", user.access).status_code == 200
    head, body, sig = user.access.split(".")
    assert len(sig) % 4 == 2  # an RS256 signature is 256 bytes: 342 characters, the last with 4 unused bits
    for variant in (f"{head}.{body}.{sig}==", f"{head}.{body}.{sig}=", f"{head}=.{body}.{sig}",
                    f"{head}.{body}.{sig.replace('-', '+').replace('_', '/')}", f"{head}.{body}.{_stray_bits(sig)}"):
        if variant == user.access:
            continue
        assert clocked.api("GET", "/todos", variant).status_code == 401, variant
        code, _ = _fails(lambda variant=variant: clocked.idp.get_user(AccessToken=variant))
        assert code == "NotAuthorizedException", variant
