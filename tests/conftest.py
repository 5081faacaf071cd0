"""Shared fixtures: a running ``stratus up`` and real clients pointed at it."""

from __future__ import annotations

import http.server
import os
import re
import signal
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from stratus.graph import Table
from stratus.local.system import RunningSystem

ROOT = Path(__file__).resolve().parents[1]
TODO = ROOT / "apps" / "todo"
OTHER = ROOT / "tests" / "apps" / "fixtures" / "other"
CLUB = ROOT / "tests" / "apps" / "fixtures" / "club"
PASSWORD = "Test-Passw0rd"


@dataclass
class User:
    email: str
    sub: str
    access: str
    id: str
    refresh: str


class Clients:
    """boto3's cognito-idp and an HTTPS client, both trusting only the system's local CA."""

    def __init__(self, system: RunningSystem, app: str = "todo") -> None:
        self.system = system
        ep = system.endpoints
        self.ep = ep
        self.app = ep["apps"][app]
        self.client_id = self.app["user_pool_client_id"]
        self.idp = boto3.client("cognito-idp", endpoint_url=ep["aws_endpoint"], region_name=ep["region"],
                                verify=ep["ca_file"])
        self.http = httpx.Client(verify=trust(ep), timeout=30)

    def api(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token:
            headers.setdefault("authorization", f"Bearer {token}")
        return self.http.request(method, self.app["api"] + path, headers=headers, **kw)

    def sign_up(self, email: str | None = None, password: str = PASSWORD) -> str:
        email = email or f"u-{uuid.uuid4().hex[:10]}@example.com"
        self.idp.sign_up(ClientId=self.client_id, Username=email, Password=password)
        return email

    def code(self, email: str) -> str:
        return self.system.latest_code(email)

    def sign_in(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        return self.idp.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]

    def user(self) -> User:
        email = self.sign_up()
        self.idp.confirm_sign_up(ClientId=self.client_id, Username=email, ConfirmationCode=self.code(email))
        res = self.sign_in(email)
        sub = self.idp.get_user(AccessToken=res["AccessToken"])["Username"]
        return User(email, sub, res["AccessToken"], res["IdToken"], res["RefreshToken"])

    def identity(self, user: User) -> dict[str, Any]:
        """Temporary AWS credentials for ``user`` from the app's identity pool, as a mobile client gets them."""
        ci = boto3.client("cognito-identity", endpoint_url=self.ep["aws_endpoint"], region_name=self.ep["region"],
                          verify=self.ep["ca_file"])
        provider = self.app["user_pools"]["users"]["issuer"].split("://", 1)[1]
        logins = {provider: user.id}
        identity_id = ci.get_id(IdentityPoolId=self.app["identity_pool_id"], Logins=logins)["IdentityId"]
        res = ci.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
        return {"identity_id": identity_id, **res["Credentials"], "logins": logins}

    def admin_idp(self) -> Any:
        """boto3's cognito-idp with the operator's credentials (the admin operations are signed)."""
        admin = self.ep["admin_credentials"]
        return boto3.client("cognito-idp", endpoint_url=self.ep["aws_endpoint"], region_name=self.ep["region"],
                            verify=self.ep["ca_file"], aws_access_key_id=admin["access_key_id"],
                            aws_secret_access_key=admin["secret_access_key"])

    def s3(self, creds: dict[str, Any] | None = None, **config: Any) -> Any:
        """A boto3 S3 client on the local endpoint: with identity credentials, or the admin's."""
        from botocore.config import Config
        if creds is None:
            admin = self.ep["admin_credentials"]
            keys = {"aws_access_key_id": admin["access_key_id"], "aws_secret_access_key": admin["secret_access_key"]}
        else:
            keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretKey"],
                    "aws_session_token": creds["SessionToken"]}
        config.setdefault("s3", {"addressing_style": "path"})
        return boto3.client("s3", endpoint_url=self.ep["aws_endpoint"], region_name=self.ep["region"],
                            verify=self.ep["ca_file"], config=Config(**config), **keys)

    def operator(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A call to the system's operations (``/_stratus/...``), with the operator's token."""
        headers = {"authorization": f"Bearer {self.ep['operator_token']}", **kw.pop("headers", {})}
        return self.http.request(method, self.ep["aws_endpoint"] + path, headers=headers, **kw)

    def advance(self, seconds: float) -> float:
        """Move the system's manual clock; its time now."""
        r = self.operator("POST", "/_stratus/clock", json={"advance": seconds})
        assert r.status_code == 200, r.text
        now: float = r.json()["now"]
        return now

    def advance_to(self, when: float) -> None:
        """Move the system's manual clock to ``when`` (a wall-clock time a client signed against), if it is behind.

        The manual clock stood still since the system started while real time went on, so a time a client
        computed from the real clock (a presigned URL's expiry) is that much further ahead of it."""
        self.advance(max(0.0, when - self.advance(0)))


def dynamodb_table(client: Any, decl: Table, name: str) -> list[dict[str, str]]:
    """Create ``decl``'s table, on demand, as ``name`` on a DynamoDB client; its key attributes as DynamoDB has them."""
    keys = [decl.partition_key] + ([decl.sort_key] if decl.sort_key else [])
    attributes = [{"AttributeName": k.name, "AttributeType": k.dynamo_type} for k in keys]
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=attributes,
                        KeySchema=[{"AttributeName": k.name, "KeyType": role}
                                   for k, role in zip(keys, ("HASH", "RANGE"), strict=False)])
    return attributes


@contextmanager
def aws_mock(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[None]:
    """moto's AWS, with fake credentials and any extra environment, for the AWS adapters' side of the tests."""
    from moto import mock_aws
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", **env}.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        yield


@contextmanager
def page_server(pages: dict[str, bytes], port: int = 0) -> Iterator[str]:
    """A plain HTTP server on the loopback serving ``pages[path]`` (HTML; the query ignored), on ``port`` (0: a free
    one): a web page's origin of its own, for a browser test. Its URL; ``pages`` may change while it runs."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the server's name for it)
            body = pages.get(self.path.split("?", 1)[0], b"not here")
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def trust(ep: dict[str, Any]) -> ssl.SSLContext:
    """An SSL context that trusts only the system's local CA."""
    return ssl.create_default_context(cafile=ep["ca_file"])


def kill_during_burst(system: RunningSystem, write: Callable[[int], bool], n: int = 500, at_least: int = 150
                      ) -> list[int]:
    """``write(i)`` for i in range(n) from 8 threads, and SIGKILL the system once ``at_least`` are acknowledged
    (``write`` says whether its write was); the acknowledged ones, after the process is gone."""
    acknowledged: list[int] = []

    def one(i: int) -> None:
        if write(i):
            acknowledged.append(i)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        deadline = time.monotonic() + 60
        while len(acknowledged) < at_least and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(system.proc.pid, signal.SIGKILL)
        for f in futures:
            f.result()
    system.proc.wait()
    assert at_least <= len(acknowledged) < n, len(acknowledged)
    return acknowledged


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[bytes]]]:
    """A real SMTP server (aiosmtpd) on a free loopback port: (port, the raw messages it received, as sent)."""
    import socket

    from aiosmtpd.controller import Controller
    received: list[bytes] = []

    class Collect:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
            received.append(bytes(envelope.original_content or envelope.content))
            return "250 OK"
    with socket.socket() as probe:  # a free port (the controller cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(Collect(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port, received
    finally:
        ctl.stop()


STARTED: list[RunningSystem] = []  # every system the tests started, so the run can stop the ones left


def start(tmp: Path, *apps: Path, extra: list[str] | None = None, port: int = 0) -> RunningSystem:
    """A ``stratus up`` of ``apps`` with its state in ``tmp``; every test starts its systems here."""
    system = RunningSystem.start(tmp, list(apps), extra=extra, port=port, terminal=True)  # signalled as a user would
    STARTED.append(system)
    return system


@pytest.fixture(scope="session", autouse=True)
def _stop_leftover_systems() -> Iterator[None]:
    """A test that failed half-way may leave its `stratus up` running: stop whatever is still up at the end."""
    yield
    for s in STARTED:
        if s.proc.poll() is None:
            s.stop()


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    s = start(tmp_path_factory.mktemp("system"), TODO, OTHER, CLUB)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def clients(system: RunningSystem) -> Clients:
    return Clients(system)


@pytest.fixture(scope="session")
def club(system: RunningSystem) -> Clients:
    """Clients of the club app: its members pool (groups, MFA, the hosted sign-in) and its API."""
    return Clients(system, "club")


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    """A system of its own whose clock the test moves (``--manual-clock``)."""
    s = start(tmp_path_factory.mktemp("clocked"), TODO, extra=["--manual-clock"])
    yield Clients(s)
    s.stop()


@pytest.fixture
def move_clock(clocked: Clients, monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the system's manual clock; boto3 then signs at the system's time (as a client on a machine whose
    clock agrees with the server's), not at this machine's, which stood still for it."""
    import datetime as dt

    import botocore.auth
    offset = [clocked.advance(0) - time.time()]

    def signing_now(remove_tzinfo: bool = True) -> dt.datetime:
        now = dt.datetime.fromtimestamp(time.time() + offset[0], dt.UTC)
        return now.replace(tzinfo=None) if remove_tzinfo else now
    monkeypatch.setattr(botocore.auth, "get_current_datetime", signing_now)

    def move(seconds: float) -> None:
        offset[0] = clocked.advance(seconds) - time.time()
    return move


# -- two users of the todo app, each with identity-pool credentials for their own folder of its files bucket

@pytest.fixture(scope="module")
def eve(clients: Clients) -> User:
    return clients.user()


@pytest.fixture(scope="module")
def frank(clients: Clients) -> User:
    return clients.user()


@pytest.fixture(scope="module")
def eve_id(clients: Clients, eve: User) -> dict[str, Any]:
    return clients.identity(eve)


@pytest.fixture(scope="module")
def frank_id(clients: Clients, frank: User) -> dict[str, Any]:
    return clients.identity(frank)


@pytest.fixture(scope="module")
def bucket(clients: Clients) -> str:
    return clients.app["buckets"]["files"]


def denied(fn: Any, code: str = "AccessDenied") -> None:
    with pytest.raises(ClientError) as exc:
        fn()
    assert error_code(exc) == code, exc.value.response



def error_code(exc: Any) -> str:
    return exc.value.response["Error"]["Code"]


def message_of(exc: Any) -> str:
    return exc.value.response["Error"]["Message"]


def code(fn: Callable[[], Any]) -> tuple[str, int]:
    """The error code and HTTP status a boto3 call ``fn`` is refused with (it must be refused)."""
    with pytest.raises(ClientError) as exc:
        fn()
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


CODE = re.compile(r"\b\d{6}\b")


def chromium() -> str:
    """Debian's Chromium, for the tests a real browser must see; installed from apt when missing (as root)."""
    import os
    import shutil
    import subprocess
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if os.path.exists(path):
        return path
    if os.geteuid() != 0:
        pytest.fail("these tests drive Debian's Chromium: install it with `apt-get install chromium`")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:  # package lists missing or stale
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    return path


# a browser with no network of its own beyond what the test gives it (this machine reaches no other host)
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Playwright driving Debian's Chromium (never a browser of Playwright's own download), headless. Per module:
    Playwright's sync API runs an event loop on this thread while it lives, and tests after it run their own."""
    from playwright.sync_api import sync_playwright
    executable = chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
