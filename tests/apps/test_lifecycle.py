"""Start, stop, restart and crash: state survives, shutdown is clean, mail goes out over SMTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stratus.local.system import RunningSystem
from tests.conftest import CODE, OTHER, ROOT, TODO, Clients, start, trust


def test_restart_keeps_users_keys_and_todos(tmp_path: Path) -> None:
    s = start(tmp_path, TODO)
    c = Clients(s)
    u = c.user()
    todo = c.api("POST", "/todos", u.access, json={"title": "survive"}).json()
    ep_before = s.endpoints
    assert s.stop() == 0  # SIGTERM: a clean exit
    assert not (tmp_path / "endpoints.json").exists()

    s2 = start(tmp_path, TODO, port=s.port)
    try:
        c2 = Clients(s2)
        assert s2.endpoints["apps"]["todo"]["user_pool_id"] == ep_before["apps"]["todo"]["user_pool_id"]
        assert c2.client_id == c.client_id
        # the token issued before the restart still verifies: the signing key persisted
        assert c2.api("GET", f"/todos/{todo['id']}", u.access).json() == todo
        again = c2.sign_in(u.email)
        assert c2.api("GET", "/todos", again["AccessToken"]).json()["items"] == [todo]
        assert c2.idp.get_user(AccessToken=u.access)["Username"] == u.sub
    finally:
        s2.stop()


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    s = start(tmp_path, TODO)
    c = Clients(s)
    u = c.user()
    acked = [c.api("POST", "/todos", u.access, json={"title": f"k{i}"}).json()["id"] for i in range(50)]
    s.stop(signal.SIGKILL)
    s2 = start(tmp_path, TODO, port=s.port)
    try:
        items = Clients(s2).api("GET", "/todos", u.access, params={"limit": 100}).json()["items"]
        assert [t["id"] for t in items] == acked
    finally:
        s2.stop()


def test_data_dir_and_ca(tmp_path: Path) -> None:
    s = start(tmp_path, TODO)
    try:
        ep = s.endpoints
        assert set(ep) >= {"region", "ca_file", "aws_endpoint", "apps"}
        assert set(ep["apps"]["todo"]) >= {"api", "user_pool_id", "user_pool_client_id"}
        assert Path(ep["ca_file"]) == tmp_path / "tls" / "ca.pem"
        for secret in ("tls/ca.key", "tls/server.key", f"keys/{ep['apps']['todo']['user_pool_id']}.pem"):
            assert (tmp_path / secret).stat().st_mode & 0o077 == 0, secret
        with pytest.raises(httpx.ConnectError):  # nothing but the local CA vouches for the server
            httpx.get(ep["aws_endpoint"] + "/_stratus/health")
        assert httpx.get(ep["aws_endpoint"] + "/_stratus/health", verify=trust(ep)).json()["status"] == "ok"
        assert httpx.get(ep["aws_endpoint"].replace("127.0.0.1", "localhost") + "/_stratus/health",
                         verify=trust(ep)).status_code == 200
    finally:
        s.stop()


def test_port_in_use_is_a_clear_error(tmp_path: Path, system: RunningSystem) -> None:
    r = subprocess.run([sys.executable, "-m", "stratus", "up", str(TODO), "--data-dir", str(tmp_path),
                        "--port", str(system.port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{system.port}" in r.stderr and "Traceback" not in r.stderr


def test_unknown_app_folder_is_a_clear_error(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "stratus", "up", str(tmp_path), "--data-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "has no app.py" in r.stderr and "Traceback" not in r.stderr


def test_mail_goes_out_over_smtp(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message) -> None:  # type: ignore[no-untyped-def]
            received.append(message)

    with socket.socket() as probe:  # a free port (the controller cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(Collect(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        s = start(tmp_path, TODO, extra=["--smtp", f"127.0.0.1:{port}"])
        try:
            c = Clients(s)
            email = c.sign_up()
            deadline = time.monotonic() + 10
            while not received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(received) == 1
            msg = received[0]
            assert msg["To"] == email and msg["Subject"] == "Your verification code"
            code = CODE.search(msg.get_payload(decode=True).decode()).group(0)
            c.idp.confirm_sign_up(ClientId=c.client_id, Username=email, ConfirmationCode=code)
            assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))
        finally:
            s.stop()
    finally:
        ctl.stop()


def test_mail_command_lists_the_outbox(clients: Clients) -> None:
    email = clients.sign_up()
    out = subprocess.run([sys.executable, "-m", "stratus", "mail", "--data-dir", str(clients.system.data_dir)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert email in out and "Your verification code" in out
    n = len(out.strip().splitlines()) - 1
    full = subprocess.run([sys.executable, "-m", "stratus", "mail", "--data-dir", str(clients.system.data_dir),
                           "--show", str(n)], capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"To: {email}" in full and "Your verification code is" in full
    bad = subprocess.run([sys.executable, "-m", "stratus", "mail", "--data-dir", str(clients.system.data_dir),
                          "--show", "99999"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no message 99999" in bad.stderr


def test_demo_passes() -> None:
    r = subprocess.run([sys.executable, "-m", "stratus", "demo"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout and "FAIL" not in r.stdout


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    s = start(tmp_path, TODO, OTHER)
    os.kill(s.proc.pid, signal.SIGINT)
    assert s.proc.wait(20) == 0
    assert not (tmp_path / "endpoints.json").exists()
