"""rclone (Debian's) against the S3 endpoint: copy, sync with deletes, check, multipart uploads, purge, as
people move folders of files in and out of S3 with it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Clients


def _rclone() -> str:
    """Debian's rclone; installed from apt when missing (as root)."""
    found = shutil.which("rclone")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("this test drives rclone: install it with `apt-get install rclone`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "rclone"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:  # package lists missing or stale
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    return shutil.which("rclone") or "/usr/bin/rclone"


def test_rclone_copies_syncs_and_checks(clients: Clients, tmp_path: Path) -> None:
    rclone, ep, admin = _rclone(), clients.ep, clients.ep["admin_credentials"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))},
           "RCLONE_CONFIG": "/dev/null", "RCLONE_CONFIG_LOCAL_TYPE": "s3", "RCLONE_CONFIG_LOCAL_PROVIDER": "Other",
           "RCLONE_CONFIG_LOCAL_ACCESS_KEY_ID": admin["access_key_id"],
           "RCLONE_CONFIG_LOCAL_SECRET_ACCESS_KEY": admin["secret_access_key"],
           "RCLONE_CONFIG_LOCAL_ENDPOINT": ep["aws_endpoint"], "RCLONE_CONFIG_LOCAL_REGION": ep["region"],
           "RCLONE_CONFIG_LOCAL_FORCE_PATH_STYLE": "true"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([rclone, "--ca-cert", ep["ca_file"], "--s3-upload-cutoff", "5M", "--s3-chunk-size",
                               "5M", *args], capture_output=True, text=True, env=env, timeout=180)
    src, back = tmp_path / "src", tmp_path / "back"
    for rel, body in {"a.txt": b"a", "dir/b.txt": b"b" * 100_000, "dir/big.bin": os.urandom(12 * 1024 * 1024 + 3),
                      "with space.txt": b"s"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(body)
    bucket = "rclone-bucket"
    for args in (("mkdir", f"local:{bucket}"), ("copy", str(src), f"local:{bucket}/data"),
                 ("check", str(src), f"local:{bucket}/data")):  # check compares sizes and MD5s
        r = run(*args)
        assert r.returncode == 0, (args, r.stderr[-2000:])
    listed = run("lsf", "-R", f"local:{bucket}/data")
    assert sorted(listed.stdout.splitlines()) == ["a.txt", "dir/", "dir/b.txt", "dir/big.bin", "with space.txt"]
    assert run("cat", f"local:{bucket}/data/a.txt").stdout == "a"
    (src / "a.txt").unlink()
    (src / "new.txt").write_bytes(b"new")
    r = run("sync", str(src), f"local:{bucket}/data")
    assert r.returncode == 0, r.stderr[-2000:]
    r = run("sync", f"local:{bucket}/data", str(back))
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*") if p.is_file()) == \
        sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    assert (back / "dir/big.bin").read_bytes() == (src / "dir/big.bin").read_bytes()
    r = run("purge", f"local:{bucket}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert bucket not in run("lsd", "local:").stdout
