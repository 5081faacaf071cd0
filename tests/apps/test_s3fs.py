"""s3fs (fsspec's S3, as pandas and many data tools use it) against the S3 endpoint, in a venv of its own: s3fs pins
an older botocore than the project's. The venv is made once per machine and kept."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import Clients

VENV = Path(tempfile.gettempdir()) / "stratus-tests-s3fs"
SCRIPT = Path(__file__).parent / "fixtures" / "s3fs_round_trip.py"


def _s3fs_python() -> Path:
    python = VENV / "bin" / "python"
    if not (python.exists() and subprocess.run([python, "-c", "import s3fs"], capture_output=True).returncode == 0):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, timeout=300)
        subprocess.run([python, "-m", "pip", "install", "-q", "s3fs>=2024.1"], check=True, timeout=900)
    return python


def test_an_s3fs_round_trip(clients: Clients) -> None:
    ep, admin = clients.ep, clients.ep["admin_credentials"]
    bucket = "s3fs-round-trip"
    r = subprocess.run([_s3fs_python(), SCRIPT, ep["aws_endpoint"], ep["ca_file"], ep["region"], admin["access_key_id"],
                        admin["secret_access_key"], bucket], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["ls_root"] == [f"{bucket}/big.bin", f"{bucket}/docs", f"{bucket}/top.txt"]
    assert out["ls_docs"] == [f"{bucket}/docs/a.txt", f"{bucket}/docs/sub"]
    assert out["find"] == [f"{bucket}/big.bin", f"{bucket}/docs/a.txt", f"{bucket}/docs/sub/b.txt", f"{bucket}/top.txt"]
    assert out["info_a"] == {"size": 5, "type": "file"} and out["isdir_docs"] is True and out["cat_a"] == "alpha"
    assert out["big_sha"] is True and out["range_ok"] is True
    assert out["after_moves"] == [f"{bucket}/big.bin", f"{bucket}/copy.txt", f"{bucket}/docs", f"{bucket}/moved.txt"]
    assert out["exists_docs"] is False and out["bucket_gone"] is True
