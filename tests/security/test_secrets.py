"""Where secrets live: the data dir is its owner's alone (0700), and every file the server makes there
(``endpoints.json`` and ``admin-credentials.json`` with the admin secret, ``identity.db`` with session
tokens, ``userpools.db`` with password hashes, their WAL and SHM files, keys, mail, objects) is 0600, whatever
umask ``stratus up`` was started with. A ``stratus`` command pointed at a data dir whose system died says so.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import TODO, Clients, start


def _loose(data_dir: Path) -> list[str]:
    """Every path under ``data_dir`` that anyone but its owner may read, write or enter."""
    return [f"{p.relative_to(data_dir)} {stat.filemode(p.stat().st_mode)}" for p in [data_dir, *data_dir.rglob("*")]
            if p.stat().st_mode & 0o077]


def test_every_secret_is_the_owners_only_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)  # made beforehand, open to all
    old = os.umask(0o000)  # the most careless umask there is: inherited by stratus up
    try:
        system = start(data_dir, TODO)
    finally:
        os.umask(old)
    try:
        clients = Clients(system)
        user = clients.user()  # userpools.db, a mail in the outbox
        me = clients.identity(user)  # identity.db: temporary secrets and session tokens
        clients.s3(me).put_object(Bucket=clients.app["buckets"]["files"], Key=f"{me['identity_id']}/x", Body=b"x")
        assert clients.api("POST", "/todos", user.access, json={"title": "t"}).status_code == 201
        made = {p.name for p in data_dir.rglob("*")}
        assert {"endpoints.json", "admin-credentials.json", "identity.db", "userpools.db", "userpools.db-wal",
                "identity.db-wal"} <= made, sorted(made)
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert _loose(data_dir) == []
    finally:
        system.stop()


def test_a_dead_systems_endpoints_are_noticed(tmp_path: Path) -> None:
    system = start(tmp_path, TODO)
    pid = system.proc.pid
    system.stop(signal.SIGKILL)  # no chance to remove its endpoints.json
    assert (tmp_path / "endpoints.json").exists()
    for command in (["stats"], ["flush-cache"]):
        r = subprocess.run([sys.executable, "-m", "stratus", *command, "--data-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and f"process {pid}" in lines[0] and "no running system" in lines[0], lines


def test_a_restart_tightens_what_was_left_open(tmp_path: Path) -> None:
    """A system killed (its endpoints.json left behind) whose files a hand then opened to all: the next start
    makes the data dir, the credentials, the databases and the new endpoints.json the owner's again."""
    system = start(tmp_path, TODO)
    system.stop(signal.SIGKILL)
    opened = ["endpoints.json", "admin-credentials.json", "userpools.db", "identity.db"]
    for name in opened:
        (tmp_path / name).chmod(0o644)
    tmp_path.chmod(0o755)
    system = start(tmp_path, TODO)
    try:
        assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
        for name in opened:
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        system.stop()


def test_a_folder_shared_with_others_is_not_taken(tmp_path: Path) -> None:
    """``--data-dir`` naming a folder that holds other things and is open to others (a project, /tmp) is refused
    in one line, and the folder is left as it was."""
    shared = tmp_path / "project"
    shared.mkdir()
    (shared / "notes.txt").write_text("mine")
    shared.chmod(0o1777)
    for planted in ([], ["admin-credentials.json"]):  # a file named as the server's own does not make it one
        for name in planted:
            (shared / name).write_text('{"access_key_id": "AKIAPLANTED"}')
        r = subprocess.run([sys.executable, "-m", "stratus", "up", str(TODO), "--data-dir", str(shared), "--port", "0"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "a folder of its own" in r.stderr
        assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
        assert sorted(p.name for p in shared.iterdir()) == sorted(["notes.txt", *planted])


def test_an_earlier_data_dir_is_taken_back(tmp_path: Path) -> None:
    """A data dir of the server's own making, opened by a hand (or made under another umask by an earlier
    version), with no admin-credentials.json yet: still the server's, and made private again."""
    system = start(tmp_path, TODO)
    system.stop()
    (tmp_path / "admin-credentials.json").unlink()
    tmp_path.chmod(0o755)
    system = start(tmp_path, TODO)
    try:
        assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    finally:
        system.stop()
