"""What a newcomer meets at the command line: each mistake one clear line (a few for an app's own error) and a
non-zero exit, never a traceback unless ``--debug`` asks for one; help for every command; progress and results
said."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import OTHER, TODO, Clients, error_code, start


def stratus(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stratus", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def one_line(r: subprocess.CompletedProcess[str], text: str) -> None:
    assert r.returncode == 2 and r.stderr == f"stratus: error: {text}\n", (r.returncode, r.stderr)


def test_a_data_dir_that_cannot_be_one(tmp_path: Path) -> None:
    file = tmp_path / "afile"
    file.write_text("x")
    one_line(stratus("up", str(TODO), "--data-dir", str(file), "--port", "0"),
             f"data dir {file} is a file, not a folder")
    one_line(stratus("up", str(TODO), "--data-dir", str(file / "sub"), "--port", "0"),
             f"cannot make the data dir {file / 'sub'}: Not a directory")
    for command in (["stats"], ["flush-cache"], ["mail"], ["endpoints"]):
        one_line(stratus(*command, "--data-dir", str(tmp_path / "typo")),
                 f"no data dir at {tmp_path / 'typo'}; `stratus up` makes one (default: .stratus)")
    one_line(stratus("mail", "--data-dir", str(file)),
             f"no data dir at {file} (it is a file); `stratus up` makes one (default: .stratus)")


def _app(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "app.py").write_text(source)
    return folder


def test_an_apps_own_mistakes_show_its_file_and_line(tmp_path: Path) -> None:
    _app(tmp_path, "syn", 'from stratus import App\napp = App("syn")\ndef f(:\n    pass\n')
    r = stratus("up", "syn", "--data-dir", "d", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr == ("stratus: error: syn/app.py, line 3: SyntaxError: invalid syntax\n"
                                              "    def f(:\n          ^\n"), r.stderr
    _app(tmp_path, "nam", 'from stratus import App\napp = App("nam")\n\ndef helper():\n    return undefined\n\nhelper()\n')
    r = stratus("up", "nam", "--data-dir", "d", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr == (
        "stratus: error: in the app's code (most recent call last):\n"
        "  nam/app.py, line 7, in <module>\n    helper()\n"
        "  nam/app.py, line 5, in helper\n    return undefined\n"
        "NameError: name 'undefined' is not defined\n"), r.stderr
    _app(tmp_path, "imp", 'from stratus import App\nimport not_a_module_anywhere\napp = App("imp")\n')
    r = stratus("up", "imp", "--data-dir", "d", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.endswith("ModuleNotFoundError: No module named 'not_a_module_anywhere'\n")
    assert "imp/app.py, line 2, in <module>" in r.stderr
    for r in (stratus("up", "nam", "--data-dir", "d", "--port", "0", "--debug", cwd=tmp_path),  # after the command
              stratus("--debug", "up", "nam", "--data-dir", "d", "--port", "0", cwd=tmp_path)):  # or before it
        assert r.returncode != 0 and "Traceback (most recent call last)" in r.stderr and "importlib" in r.stderr
    _app(tmp_path, "decl", 'from stratus import App\napp = App("decl")\napi = app.rest_api("api")\n\n'
                           '@api.get("/x")\ndef x(req, ctx):\n    return {}\n')
    r = stratus("up", "decl", "--data-dir", "d", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("stratus: error: decl/app.py, line 5: GET /x: ") \
        and len(r.stderr.splitlines()) == 1, r.stderr
    one_line(stratus("up", "nothere", "--data-dir", "d", "--port", "0", cwd=tmp_path),
             f"{tmp_path / 'nothere'} is not an app folder (it has no app.py)")
    pkg = _app(tmp_path, "pkg", 'from stratus import App\napp = App("pkg")\n')
    (pkg / "__init__.py").write_text("x = undefined_name\n")  # the folder's own __init__.py runs first
    r = stratus("up", "pkg", "--data-dir", "d", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr == ("stratus: error: in the app's code (most recent call last):\n"
                                              "  pkg/__init__.py, line 1, in <module>\n    x = undefined_name\n"
                                              "NameError: name 'undefined_name' is not defined\n"), r.stderr
    _app(tmp_path, "rel", 'from stratus import App\nfrom . import helpers\napp = App("rel")\n')
    r = stratus("up", "rel", "--data-dir", "d", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.endswith("ImportError: cannot import name 'helpers' from 'rel' "
                                                   "(unknown location)\n") and "stratus_apps" not in r.stderr, r.stderr
    imports = _app(tmp_path, "imports", 'from stratus import App\napp = App("imports")\n')
    (imports / "__init__.py").write_text("import app\n")  # not how an app's own module is named: said so
    r = stratus("up", "imports", "--data-dir", "d", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.endswith("ModuleNotFoundError: No module named 'app'\n") \
        and "imports/__init__.py, line 1" in r.stderr, r.stderr
    (_app(tmp_path, "nul", "") / "app.py").write_bytes(b"x = 1\x00\n")
    one_line(stratus("up", "nul", "--data-dir", "d", "--port", "0", cwd=tmp_path),
             "nul/app.py: SyntaxError: source code string cannot contain null bytes")


def test_a_data_dir_whose_lock_or_endpoints_are_not_what_they_should_be(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    (locked / "up.lock").mkdir(parents=True)
    one_line(stratus("up", str(TODO), "--data-dir", str(locked), "--port", "0"),
             f"cannot lock the data dir {locked}: {locked / 'up.lock'}: Is a directory")
    stale = tmp_path / "stale"  # endpoints naming a live process (this one) but no system: the lock says so
    stale.mkdir()
    (stale / "endpoints.json").write_text(f'{{"pid": {__import__("os").getpid()}}}')
    for command in ("stats", "flush-cache", "endpoints"):
        r = stratus(command, "--data-dir", str(stale))
        assert r.returncode == 2 and r.stderr.startswith(f"stratus: error: no running system found on {stale}: ") \
            and len(r.stderr.splitlines()) == 1, r.stderr


def test_the_commands_run_in_process_leave_ctrl_c_as_they_found_it(tmp_path: Path) -> None:
    code = ("import signal; from stratus.cli import main\n"
            "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # importing changes nothing\n"
            f"main(['mail', '--data-dir', {str(tmp_path)!r}])\n"
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().endswith("True"), r.stdout + r.stderr


def test_two_apps_of_one_name_are_not_synthesized_over_each_other(tmp_path: Path) -> None:
    _app(tmp_path, "one", 'from stratus import App\napp = App("same")\n')
    _app(tmp_path, "two", 'from stratus import App\napp = App("same")\n')
    one_line(stratus("synth", "one", "two", "--out", "out", cwd=tmp_path),
             "two apps share a name: same (each app's name must be its own)")
    assert not (tmp_path / "out").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mail_that_cannot_go_out_says_why_in_the_log(tmp_path: Path) -> None:
    port = _closed_port()
    system = start(tmp_path, TODO, extra=["--smtp", f"127.0.0.1:{port}"])
    try:
        clients = Clients(system)
        with pytest.raises(ClientError) as exc:
            clients.sign_up("nomail@example.com")
        assert error_code(exc) == "CodeDeliveryFailureException"  # the client gets Cognito's error
    finally:
        system.stop()
    log = (tmp_path / "up.log").read_text()
    assert "the verification code for nomail@example.com was not delivered" in log
    assert f"SMTP server 127.0.0.1:{port} did not take the message" in log and "Connection refused" in log


def test_the_small_commands(tmp_path: Path) -> None:
    from stratus import __version__
    r = stratus("--version")
    assert r.returncode == 0 and r.stdout == f"stratus {__version__}\n"
    for command in ("up", "stats", "flush-cache", "mail", "endpoints", "demo", "synth", "deploy", "destroy"):
        r = stratus(command, "--help")
        usage, _, rest = r.stdout.partition("\n\n")
        assert r.returncode == 0 and rest.split("\n\n")[0].strip() and not rest.startswith("positional"), command
    system = start(tmp_path, TODO, OTHER)
    try:
        clients = Clients(system)
        d = str(tmp_path)
        user = clients.user()
        one_line(stratus("mail", "--data-dir", d, "--code", "nobody@example.com"),
                 "no confirmation code for nobody@example.com in the outbox")
        r = stratus("mail", "--data-dir", d, "--code", user.email)
        assert r.returncode == 0 and r.stdout.strip().isdigit() and len(r.stdout.strip()) == 6
        for _ in range(3):
            clients.api("GET", "/todos", user.access)
        r = stratus("flush-cache", "--data-dir", d)
        assert r.returncode == 0 and r.stdout == "flushed todo/api: 1 cached answer dropped\n", r.stdout
        r = stratus("flush-cache", "other", "--data-dir", d)
        assert r.stdout == "nothing to flush: no API of app other has a response cache on\n"
        assert stratus("endpoints", "apps.todo.api", "--data-dir", d).stdout == clients.app["api"] + "\n"
        assert stratus("endpoints", "region", "--data-dir", d).stdout == "us-east-1\n"
        one_line(stratus("endpoints", "apps.nope", "--data-dir", d),
                 "the endpoints have no 'apps.nope' (no 'nope' there; keys: other, todo)")
    finally:
        system.stop()
    assert (tmp_path / "up.log").read_text().rstrip().endswith(f"stratus stopped; its state stays in {tmp_path}")


@pytest.mark.synth
def test_synth_names_its_output_after_the_app_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "my-folder"
    shutil.copytree(TODO, folder, ignore=shutil.ignore_patterns("__pycache__"))
    r = stratus("synth", str(folder), "--no-dax", "--out", str(tmp_path / "out"), timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"synthesizing todo with the AWS CDK into {tmp_path / 'out' / 'todo'} (a few seconds)..." in r.stderr
    assert (tmp_path / "out" / "todo").is_dir() and not (tmp_path / "out" / "my-folder").exists()


def test_an_address_that_is_not_this_machines(tmp_path: Path) -> None:
    one_line(stratus("up", str(TODO), "--host", "nosuch.invalid", "--data-dir", str(tmp_path / "a"), "--port", "0"),
             "cannot listen on nosuch.invalid: Name or service not known; give --host an address of this machine")
    r = stratus("up", str(TODO), "--host", "192.0.2.1", "--data-dir", str(tmp_path / "b"), "--port", "0")
    one_line(r, "cannot listen on 192.0.2.1:0: Cannot assign requested address; give --host an address of this "
                "machine")
