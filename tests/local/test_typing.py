"""An app's handlers type-check against the platform: on a route that is not public the caller is never None."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HANDLERS = """
    from stratus import AuthRequest, Context, Request

    def mine(req: AuthRequest, ctx: Context) -> str:
        return req.user.sub                  # an AuthRequest always has its user

    def anyone(req: Request, ctx: Context) -> str:
        return req.user.sub                  # a public route's caller may be anonymous: mypy says so
"""


def test_an_auth_requests_user_is_never_none_to_the_type_checker(tmp_path: Path) -> None:
    source = tmp_path / "handlers.py"
    source.write_text(textwrap.dedent(HANDLERS))
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / ".mypy"),
                           str(source)], capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "handlers.py:8:" in errors[0] and 'Item "None"' in errors[0], done.stdout
