"""README's shell path, run as written: start a system, sign up and in with the AWS CLI, call the API with curl,
trade the ID token for identity-pool credentials, and use the user's own S3 folder with `aws s3`.

The only change to README's text: `stratus up` gets `--port 0` (a free port), so a system already on 4580
does not get in the way. It runs in a folder of its own whose ./apps is the repository's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _shell_path() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("<!-- shell-path -->", 1)[1].split("<!-- /shell-path -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 4, "README's shell path lost a block"
    script = "\n".join(blocks)
    assert script.count("stratus up &") == 1
    return script.replace("stratus up &", "stratus up --port 0 &")


def test_readmes_shell_path_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("README's shell path uses curl: install it (apt-get install curl)")
    (tmp_path / "apps").symlink_to(ROOT / "apps")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path),
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    r = subprocess.run(["bash", "-c", "set -eu\n" + _shell_path()], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count('"title":"buy milk"') == 2, r.stdout  # created, then listed
    assert re.search(r"upload: \./note\.txt to s3://\S+/us-east-1:[0-9a-f-]{36}/note\.txt", r.stdout), r.stdout
    assert re.search(r"\d+-\d+-\d+ \d+:\d+:\d+\s+6 note\.txt", r.stdout), r.stdout  # "hello\n", listed
    assert not (tmp_path / ".stratus" / "endpoints.json").exists()  # stopped cleanly
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).returncode == 1  # nothing left


def test_the_wait_for_the_system_ends_when_it_cannot_start(tmp_path: Path) -> None:
    """README's first block on a port that is taken: `stratus up` says why, and the wait ends instead of spinning."""
    import socket
    first = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text().split("<!-- shell-path -->", 1)[1],
                       re.DOTALL)[0]
    (tmp_path / "apps").symlink_to(ROOT / "apps")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        script = first.replace("stratus up &", f"stratus up --port {taken.getsockname()[1]} &")
        r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert "cannot listen on 127.0.0.1:" in r.stderr and "stratus up stopped" in r.stdout, r.stdout + r.stderr
