"""Start, stop, restart and crash: state survives, shutdown is clean, mail goes out over SMTP."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from stratus.local.system import RunningSystem, default_signals
from tests.conftest import CODE, OTHER, ROOT, STARTED, TODO, Clients, smtp_server, start, trust


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
    with smtp_server() as (port, received):
        s = start(tmp_path, TODO, extra=["--smtp", f"127.0.0.1:{port}"])
        try:
            c = Clients(s)
            email = c.sign_up()
            deadline = time.monotonic() + 10
            while not received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(received) == 1
            msg = BytesParser(policy=email_policy.default).parsebytes(received[0])
            assert msg["To"] == email and msg["Subject"] == "Your verification code"
            code = CODE.search(msg.get_body(("plain",)).get_content()).group(0)  # type: ignore[union-attr]
            c.idp.confirm_sign_up(ClientId=c.client_id, Username=email, ConfirmationCode=code)
            assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))
        finally:
            s.stop()


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
    assert "(removed afterwards; --keep keeps it)" in r.stdout and "\nremoved " in r.stdout


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    s = start(tmp_path, TODO, OTHER)
    os.kill(s.proc.pid, signal.SIGINT)
    assert s.proc.wait(20) == 130  # Ctrl-C: 128 + SIGINT, as a shell reports it
    assert not (tmp_path / "endpoints.json").exists()
    assert "stratus stopped; its state stays in" in (tmp_path / "up.log").read_text()


def test_a_second_ctrl_c_stops_at_once_and_quietly(tmp_path: Path) -> None:
    s = start(tmp_path, TODO)
    os.kill(s.proc.pid, signal.SIGINT)
    os.kill(s.proc.pid, signal.SIGINT)
    assert s.proc.wait(20) == 130
    log = (tmp_path / "up.log").read_text()
    assert "Traceback" not in log and "ERROR" not in log, log
    assert not (tmp_path / "endpoints.json").exists()


def _up(data_dir: Path, preexec: Any) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "stratus", "up", str(TODO), "--data-dir", str(data_dir), "--port",
                             "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)
    deadline = time.monotonic() + 60
    while not (data_dir / "endpoints.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def test_a_system_started_ignoring_ctrl_c_goes_on_ignoring_it(tmp_path: Path) -> None:
    """`stratus up &` in a script: the shell has it ignore Ctrl-C, which is the script's to take."""
    proc = _up(tmp_path, lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(1)
        assert proc.poll() is None
        ep = json.loads((tmp_path / "endpoints.json").read_text())
        assert httpx.get(ep["aws_endpoint"] + "/_stratus/health", verify=trust(ep)).status_code == 200
    finally:
        proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and b"Traceback" not in err, err


def test_a_demo_in_the_background_keeps_its_system_through_ctrl_c(tmp_path: Path) -> None:
    """The demo run ignoring Ctrl-C (a script's background job): a Ctrl-C in its terminal, while it tours, stops
    neither it nor its system: the tour passes, and the system stops and its folder goes at the end."""
    def background() -> None:
        os.setpgrp()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = subprocess.Popen([sys.executable, "-m", "stratus", "demo", "--apps-dir", str(ROOT / "apps")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=background)
    assert proc.stdout is not None
    data_dir = proc.stdout.readline().split(" in ", 1)[1].split(" (", 1)[0]
    deadline = time.monotonic() + 60
    while not Path(data_dir, "endpoints.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C reaches the whole job
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "\n0 failed" in out.replace(" passed, ", "\n") and "Traceback" not in err, \
        out[-2000:] + err
    assert subprocess.run(["pgrep", "-f", data_dir], capture_output=True).returncode == 1
    assert not Path(data_dir).exists()


def test_a_system_whose_output_goes_nowhere_still_stops_with_130(tmp_path: Path) -> None:
    """`stratus up | head -1`: the reader has gone after one line; the server goes on, and Ctrl-C still gives 130."""
    data_dir = tmp_path / "d"
    script = (f"{shlex.quote(sys.executable)} -m stratus up {shlex.quote(str(TODO))} --data-dir "
              f"{shlex.quote(str(data_dir))} --port 0 | head -1; echo status=${{PIPESTATUS[0]}}")
    proc = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (data_dir / "endpoints.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    pid = json.loads((data_dir / "endpoints.json").read_text())["pid"]
    os.kill(pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "status=130" in out and "Traceback" not in err, out + err


def test_sigterm_at_any_moment_of_start_up_stops_it_cleanly(tmp_path: Path) -> None:
    """SIGTERM while starting is taken as Ctrl-C is (noted, acted on at a safe point), with SIGTERM's status: 0,
    nothing said to be up, nothing left running; before stratus's first line runs it is the system's (-15)."""
    import random
    rng = random.Random(7)
    clean = 0
    for n in range(12):
        data_dir = tmp_path / f"t{n % 3}"
        proc = subprocess.Popen([sys.executable, "-m", "stratus", "up", str(TODO), "--data-dir", str(data_dir),
                                 "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=default_signals)
        _started(proc)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode in (0, -signal.SIGTERM) and b"Traceback" not in err, (proc.returncode, err[-2000:])
        clean += proc.returncode == 0
        assert not (data_dir / "endpoints.json").exists()
    assert clean >= 6, f"only {clean} of 12 SIGTERMs landed after stratus began: the loop did not test start-up"
    again = start(tmp_path / "t0", TODO)
    again.stop()


def test_a_demo_ignoring_sigterm_still_stops_its_system_at_once(tmp_path: Path) -> None:
    """Its system gets SIGTERM back (how the demo stops it), whatever the demo was started ignoring."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "stratus", "demo", "--apps-dir", str(ROOT / "apps")], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120,
                       preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    assert r.returncode == 0 and "\n0 failed" in r.stdout.replace(" passed, ", "\n"), r.stdout[-2000:] + r.stderr
    assert time.monotonic() - t0 < 15  # not the 20 s a stop waits before SIGKILL


def test_a_data_dir_serves_one_system_at_a_time(tmp_path: Path) -> None:
    first = start(tmp_path, TODO)
    try:
        r = subprocess.run([sys.executable, "-m", "stratus", "up", str(TODO), "--data-dir", str(tmp_path), "--port", "0"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stderr == (
            f"stratus: error: data dir {tmp_path} is in use by a running stratus up (pid {first.proc.pid}, "
            f"{first.endpoints['aws_endpoint']}); stop it first, or give this one a --data-dir of its own\n")
        assert httpx.get(first.endpoints["aws_endpoint"] + "/_stratus/health", verify=trust(first.endpoints)).json() \
            == {"status": "ok"}  # the first keeps serving
        assert (tmp_path / "endpoints.json").exists()  # and its endpoints stay
    finally:
        first.stop()


def test_a_killed_system_does_not_hold_its_data_dir(tmp_path: Path) -> None:
    first = start(tmp_path, TODO)
    first.stop(signal.SIGKILL)
    second = start(tmp_path, TODO)  # the lock went with the process
    try:
        assert second.proc.poll() is None and second.endpoints["pid"] == second.proc.pid
    finally:
        second.stop()


def _started(proc: subprocess.Popen[bytes]) -> None:
    """Wait until ``proc`` runs this interpreter on stratus (it has left the fork and exec'd)."""
    deadline = time.monotonic() + 10
    while b"stratus" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.0005)


def _before_stratus_ran(err: bytes) -> bool:
    """Whether a KeyboardInterrupt's traceback shows it raised before stratus's first line had run: no frame of
    stratus's own but the package's ``__init__`` (which runs before any command, and, being a library's, sets no
    handler) and ``__main__.py``'s first line (importing what defers Ctrl-C)."""
    frames = re.findall(rb'File "([^"]+)", line (\d+)', err)
    ours = [(f, n) for f, n in frames if b"/stratus/" in f]
    first = (ROOT / "src/stratus/__main__.py").read_text().splitlines().index("from . import interrupts") + 1
    return b"KeyboardInterrupt" in err and all(f.endswith(b"stratus/__init__.py")
                                               or (f.endswith(b"stratus/__main__.py") and int(n) <= first)
                                               for f, n in ours)


def test_ctrl_c_at_any_moment_of_start_up_exits_130_quietly(tmp_path: Path) -> None:
    """A bounded loop of Ctrl-Cs at random moments of start-up, until just after the system is up: each exits
    130, prints no traceback, leaves no process, and the data dir starts again.

    Before stratus's first line runs (the interpreter starting, `import stratus`), a Ctrl-C is Python's: it
    stops the process before anything of the system exists. The loop aims past that (the interpreter's start is
    timed first), and a Ctrl-C that still lands there, under load, is recognised by its traceback holding no
    frame of stratus's own beyond that first line; every other one must be quiet."""
    import random
    import statistics
    bare = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t0)
    floor = statistics.median(bare) * 1.5
    ready = start(tmp_path / "probe", TODO).ready_seconds
    STARTED[-1].stop()
    rng = random.Random(11)
    early = 0
    for n in range(30):
        data_dir = tmp_path / f"d{n % 3}"
        proc = subprocess.Popen([sys.executable, "-m", "stratus", "up", str(TODO), "--data-dir", str(data_dir),
                                 "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=default_signals)  # as from a terminal, whatever this run ignores
        _started(proc)
        time.sleep(rng.uniform(floor, ready + 0.3))
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"a Ctrl-C was swallowed ({n}): the system kept running:\n{out[-1000:]!r}\n"
                                 f"{err[-2000:]!r}") from None
        if proc.returncode != 130 and _before_stratus_ran(err):
            early += 1
            continue
        assert proc.returncode == 130, (n, proc.returncode, err[-2000:])
        assert b"Traceback" not in err and b"KeyboardInterrupt" not in err, err[-2000:]
    assert early <= 10, f"{early} of 30 Ctrl-Cs landed before stratus ran: the loop did not test start-up"
    for n in range(3):  # each data dir starts again
        again = start(tmp_path / f"d{n}", TODO)
        again.stop()


@pytest.mark.parametrize(("signals", "status"), [((signal.SIGINT,), 130), ((signal.SIGINT, signal.SIGINT), 130),
                                                  ((signal.SIGTERM, signal.SIGINT), 143)],
                         ids=["ctrl-c", "ctrl-c twice", "kill then ctrl-c"])
def test_ctrl_c_or_kill_during_the_demo_stops_its_system_too(tmp_path: Path, signals: tuple[int, ...],
                                                             status: int) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "stratus", "demo", "--apps-dir", str(ROOT / "apps")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "starting a fresh system in /tmp/stratus-demo-..."
    data_dir = first.split(" in ", 1)[1].split(" (", 1)[0]
    deadline = time.monotonic() + 30
    while not Path(data_dir, "endpoints.json").exists():  # its system is up
        assert time.monotonic() < deadline, first
        time.sleep(0.05)
    for sig in signals:  # only to the demo, not its system: the demo must stop it (a terminal would signal both)
        proc.send_signal(sig)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=60)
    # on a machine loaded enough to hold this test back for the whole tour, the demo may have finished (and said
    # so) before the signal came: then it ends as a finished demo does
    finished = "passed, 0 failed" in out
    assert (proc.returncode == status or (finished and proc.returncode == 0)) and "Traceback" not in err, err
    assert subprocess.run(["pgrep", "-f", data_dir], capture_output=True).returncode == 1  # no server left
    assert not Path(data_dir).exists()  # and its temporary data dir is gone
