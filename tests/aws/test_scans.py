"""The synthesized templates pass cfn-lint and checkov.

cfn-lint runs in this environment, through its Python API; only W3005 (a DependsOn that a GetAtt
already implies, which the CDK writes for roles and their policies) is ignored.

checkov pins an old boto3/botocore, which must not enter the test environment, so it gets a virtual
environment of its own under the pytest cache (``.pytest_cache/d/checkov-<version>``), made on first
use (pip installs the pinned version; under a minute) and reused while its version is the pinned one.
Every check checkov fails on must be listed, with a reason, in checkov-skips.toml, and every check
listed there must still fail somewhere, so the list neither hides new findings nor keeps stale ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from stratus.aws.deploy.synth import SynthResult

CHECKOV = "3.3.30"
SKIPS = Path(__file__).parent / "checkov-skips.toml"
CFN_LINT_IGNORED = ["W3005"]
CFN_LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

pytestmark = pytest.mark.synth


SCANNED = ["todo", "todo-no-dax", "shop", "authoring", "partners", "feed", "blog"]


@pytest.fixture(scope="module")
def templates(assemblies: Callable[[str], SynthResult]) -> dict[str, Path]:
    """apps/todo with DAX and without, the shop fixture (a public route), the authoring fixture (an Email), the
    partners fixture (groups, MFA, a hosted sign-in, a machine client): the session's synthesis of each."""
    return {name: assemblies(name).template for name in SCANNED}


@pytest.mark.parametrize("name", SCANNED)
def test_cfn_lint_passes(name: str, templates: dict[str, Path]) -> None:
    matches = lint_file(templates[name], ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=CFN_LINT_IGNORED))
    assert [str(m) for m in matches] == []


# -- checkov --------------------------------------------------------------------------------------------

def skips() -> dict[str, str]:
    table = tomllib.loads(SKIPS.read_text())["skip"]
    missing = [check for check, reason in table.items() if not (isinstance(reason, str) and reason.strip())]
    assert not missing, f"{SKIPS.name}: give each skipped check a reason ({', '.join(missing)})"
    return table


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


@pytest.fixture(scope="session")
def checkov(request: pytest.FixtureRequest) -> Path:
    """The checkov command, from a virtual environment of its own holding the pinned version."""
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir(f"checkov-{CHECKOV}") if cache is not None else Path(tempfile.gettempdir()) / f"checkov-{CHECKOV}"
    venv, ready = root / "venv", root / "ready"
    if not (ready.is_file() and ready.read_text() == CHECKOV and _bin(venv, "checkov").exists()):
        shutil.rmtree(venv, ignore_errors=True)
        ready.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run([str(_bin(venv, "python")), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        f"checkov=={CHECKOV}"], check=True, timeout=600)
        ready.write_text(CHECKOV)
    return _bin(venv, "checkov")


def run_checkov(checkov: Path, templates: list[Path], skip: list[str], cwd: Path) -> list[dict[str, Any]]:
    """checkov's failed checks on ``templates``, skipping the checks in ``skip``."""
    args = [str(checkov), "--framework", "cloudformation", "-o", "json", "--skip-download"]
    for template in templates:
        args += ["-f", str(template)]
    if skip:
        args += ["--skip-check", ",".join(skip)]
    # no Prisma Cloud key or checkov settings from the caller's environment; cwd has no .checkov.yaml
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "CKV_", "PRISMA_", "CHECKOV_"))}
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: some check failed
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert [r["check_type"] for r in reports] == ["cloudformation"]
    (report,) = reports
    summary = report["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] > 0 and summary["passed"] > 0, summary
    failed: list[dict[str, Any]] = report["results"]["failed_checks"]
    assert summary["failed"] == len(failed)
    return failed


def describe(failed: list[dict[str, Any]]) -> list[str]:
    return sorted({f"{c['check_id']} {c['check_name']}: {c['resource']} ({Path(c['file_path']).name})" for c in failed})


def test_checkov_finds_nothing_not_listed_with_a_reason(checkov: Path, templates: dict[str, Path],
                                                        tmp_path: Path) -> None:
    failed = run_checkov(checkov, list(templates.values()), list(skips()), tmp_path)
    assert describe(failed) == []


def test_every_listed_checkov_skip_still_fails_somewhere(checkov: Path, templates: dict[str, Path],
                                                         tmp_path: Path) -> None:
    failed = run_checkov(checkov, list(templates.values()), [], tmp_path)
    listed = set(skips())
    assert sorted({c["check_id"] for c in failed} - listed) == []  # as the test above, without the skip list
    assert sorted(listed - {c["check_id"] for c in failed}) == [], f"passing now: drop from {SKIPS.name}"
