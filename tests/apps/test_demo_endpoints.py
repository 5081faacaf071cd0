"""``stratus demo`` against a system that is already up, described by its endpoints file.

The local tour runs for real against a ``stratus up``; the AWS target is checked
for its decisions only (which endpoints, which trust, how a sign-up is confirmed),
with botocore's Stubber standing in for AWS, so no test calls AWS.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from stratus.demo import Target, run_demo, tour_of
from stratus.errors import StratusError
from stratus.local.system import RunningSystem
from tests.conftest import TODO, start

STEP = re.compile(r"^  (PASS|FAIL) .*$", re.MULTILINE)

AWS_DOC: dict[str, Any] = {
    "provider": "aws", "region": "eu-west-1", "stack": "stratus-todo",
    "apps": {"todo": {
        "api": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/",
        "apis": {"api": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"},
        "user_pool_id": "eu-west-1_AbCdEf123", "user_pool_client_id": "client123",
        "user_pools": {"users": {"id": "eu-west-1_AbCdEf123", "clients": {"app": "client123"},
                                 "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"}},
        "identity_pool_id": "eu-west-1:0000-1111", "buckets": {"files": "stratus-todo-files-1a2b3c"},
    }},
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    s = start(tmp_path_factory.mktemp("demo") / "data", TODO)
    try:
        yield s
    finally:
        s.stop()


def test_demo_tours_a_running_local_system_from_its_endpoints_file(
        running: RunningSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no apps/ here: touring a running system needs none
    for _ in range(2):  # the same system toured twice: each tour brings its own users
        assert run_demo(endpoints=running.data_dir / "endpoints.json") == 0
        out = capsys.readouterr().out
        steps = STEP.findall(out)
        assert len(steps) >= 25 and set(steps) == {"PASS"}, out
        assert f"{len(steps)} passed, 0 failed" in out
        assert "read the confirmation code from the mail outbox" in out
        assert "the second answer comes from the API cache" in out
        assert "Admin" not in out and "stratus up:" not in out  # no admin calls, no system of its own
    assert running.proc.poll() is None  # the tour leaves the system it toured running


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "endpoints.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(("content", "message"), [
    (None, "no endpoints file at"),
    ("{not json", "is not an endpoints file: not JSON"),
    ("[1, 2]", "is not an endpoints file: not a JSON object"),
    (json.dumps({"region": "us-east-1", "apps": {"other": {}}}), "describes no app with a tour (apps: other)"),
    (json.dumps({"region": "us-east-1", "aws_endpoint": "https://127.0.0.1:1"}), "describes no app with a tour (apps: none)"),
    (json.dumps({**AWS_DOC, "provider": "gcp"}), "is for provider 'gcp'"),
    (json.dumps({k: v for k, v in AWS_DOC.items() if k != "provider"}), "neither a local endpoints file"),
    (json.dumps({**AWS_DOC, "apps": {"todo": {**AWS_DOC["apps"]["todo"], "buckets": {}}}}),
     "not a usable endpoints file: it has no buckets.files"),
])
def test_an_unusable_endpoints_file_is_a_one_line_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "endpoints.json" if content is None else _write(tmp_path, content)
    with pytest.raises(StratusError) as exc:
        run_demo(endpoints=path)
    assert message in str(exc.value) and str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_an_unreadable_endpoints_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(StratusError, match="cannot read the endpoints file") as exc:
        run_demo(endpoints=tmp_path)  # a directory
    assert "\n" not in str(exc.value)


def test_a_local_endpoints_file_whose_ca_is_gone_says_so(running: RunningSystem, tmp_path: Path) -> None:
    doc = {**running.endpoints, "ca_file": str(tmp_path / "gone.pem")}
    with pytest.raises(StratusError, match="names the CA file .* which is gone"):
        run_demo(endpoints=_write(tmp_path, json.dumps(doc)))


def test_a_local_endpoints_file_makes_a_local_target(running: RunningSystem) -> None:
    t = Target.load(running.data_dir / "endpoints.json")
    ep = running.endpoints
    assert (t.endpoint_url, t.ca_file, t.region) == (ep["aws_endpoint"], ep["ca_file"], ep["region"])
    assert t.outbox == running.data_dir / "outbox" and t.s3_path_style and t.cache_header == "x-stratus-cache"
    assert not t.delete_users and t.cleanup(object(), "us-east-1_x", ["someone@example.com"]) == []
    assert t.client("cognito-idp").meta.endpoint_url == ep["aws_endpoint"]
    assert t.client("s3").meta.config.s3 == {"addressing_style": "path"}


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that cannot reach AWS, so building a client neither finds nor looks for real ones."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(var, value)


@pytest.mark.usefixtures("fake_credentials")
def test_an_aws_endpoints_file_makes_an_aws_target(tmp_path: Path) -> None:
    t = Target.load(_write(tmp_path, json.dumps(AWS_DOC)))
    assert "stack stratus-todo on AWS (eu-west-1)" in t.where
    # AWS's own endpoints, the system trust store, boto3's default S3 addressing, no outbox, no cache header
    assert (t.endpoint_url, t.ca_file, t.s3_path_style, t.outbox, t.cache_header) == (None, None, False, None, None)
    todo = tour_of(TODO).endpoints(t.app("todo"))  # type: ignore[union-attr]
    assert todo.login_provider == "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    assert todo.bucket == "stratus-todo-files-1a2b3c"
    assert t.client("cognito-idp").meta.endpoint_url == "https://cognito-idp.eu-west-1.amazonaws.com"
    assert t.client("cognito-identity").meta.endpoint_url == "https://cognito-identity.eu-west-1.amazonaws.com"
    assert (t.client("s3").meta.config.s3 or {}).get("addressing_style") in (None, "auto", "virtual")
    api = t.https(todo.api)
    assert (api.conn.host, api.conn.port, api.prefix) == ("abc123.execute-api.eu-west-1.amazonaws.com", 443, "/prod")


@pytest.mark.usefixtures("fake_credentials")
def test_on_aws_sign_ups_are_confirmed_and_users_deleted_as_an_admin(tmp_path: Path) -> None:
    t = Target.load(_write(tmp_path, json.dumps(AWS_DOC)))
    idp = t.client("cognito-idp")
    pool = {"UserPoolId": "eu-west-1_AbCdEf123"}
    with Stubber(idp) as stub:
        stub.add_response("admin_confirm_sign_up", {}, {**pool, "Username": "alice@example.com"})
        stub.add_response("admin_delete_user", {}, {**pool, "Username": "alice@example.com"})
        stub.add_response("admin_delete_user", {}, {**pool, "Username": "bob@example.com"})
        confirm = t.confirmation(idp, "alice", "alice@example.com", "eu-west-1_AbCdEf123", "client123")
        assert [title for title, _ in confirm] == [
            "alice: confirm the sign-up as an admin, with your AWS credentials (AdminConfirmSignUp)"]
        for _, fn in confirm:
            fn()
        cleanup = t.cleanup(idp, "eu-west-1_AbCdEf123", ["alice@example.com", "bob@example.com"])
        assert len(cleanup) == 1 and "AdminDeleteUser" in cleanup[0][0]
        cleanup[0][1]()
        stub.assert_no_pending_responses()


def test_an_aws_tour_without_credentials_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StratusError, match="no AWS credentials found"):
        Target.load(_write(tmp_path, json.dumps(AWS_DOC)))
