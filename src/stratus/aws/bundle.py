"""The Lambda asset: the platform, the app, and the pure-Python packages the functions need.

Synthesis is offline, so nothing is downloaded: the asset is assembled from what is installed
here. The platform goes in without its local provider, its commands and the synthesis and
deployment tooling (Lambda never runs them), the app folder goes in whole, and extra
distributions (amazon-dax-client when a table declares a cache) are copied with their
requirements from this environment. Lambda's Python runtime has boto3 and botocore; everything
else must be pure Python, since the functions run on arm64 whatever this machine is, and a
distribution with compiled code is refused by name.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from ..errors import StratusError
from . import AWS_EXTRA

# what Lambda's Python runtime already provides (boto3 and what it needs)
IN_RUNTIME = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil"})
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".stratus", "cdk.out"}
# the local provider, the commands, and the AWS tooling that synthesizes and deploys (never imported on Lambda;
# left out, the asset's hash, and so the functions, change only when the code they run does)
_PLATFORM_SKIP = {"local", "demo.py", "_https.py", "cli.py", "__main__.py", "aws/synth.py", "aws/deploy.py",
                  "aws/bundle.py"}
# the functions' Python, against which requirement markers are read
LAMBDA_PYTHON = "3.14"
LAMBDA_ENV = {"python_version": LAMBDA_PYTHON, "python_full_version": f"{LAMBDA_PYTHON}.0", "sys_platform": "linux",
              "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
              "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


def build_asset(app_dir: Path, dest: Path, vendor: list[str]) -> list[str]:
    """Write the function code to ``dest``; the distributions vendored, with versions."""
    platform = Path(__file__).resolve().parent.parent
    _copy_tree(platform, dest / "stratus", skip=_PLATFORM_SKIP)
    _copy_tree(app_dir.resolve(), dest / "apps" / app_dir.resolve().name, skip=set())
    done: dict[str, str] = {}
    for name in vendor:
        _vendor(name, dest, done)
    return [f"{n}=={v}" for n, v in sorted(done.items())]


def _copy_tree(src: Path, dest: Path, skip: set[str]) -> None:
    """Copy ``src`` to ``dest`` without caches, bytecode, and the paths (relative to ``src``) in ``skip``."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        rel = Path(folder).relative_to(src)
        return {n for n in names if n in _SKIP_DIRS or n.endswith((".pyc", ".pyo")) or (rel / n).as_posix() in skip}
    shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _vendor(name: str, dest: Path, done: dict[str, str]) -> None:
    key = _canonical(name)
    if key in done or key in IN_RUNTIME:
        return
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise StratusError(f"the Lambda asset needs {name}, which is not installed here: {AWS_EXTRA}") from None
    done[key] = dist.version
    files = [f for f in dist.files or [] if not str(f).startswith(("..", "/")) and ".dist-info" not in str(f)
             and "__pycache__" not in str(f) and not str(f).endswith(".pyc")]
    compiled = [str(f) for f in files if str(f).endswith((".so", ".pyd", ".dylib"))]
    if compiled:
        raise StratusError(f"{name} {dist.version} has compiled code ({compiled[0]}); the Lambda asset takes "
                           "only pure-Python packages, since functions run on arm64")
    for f in files:
        target = dest / str(f)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(str(dist.locate_file(f))), target)
    try:  # the aws extra's; imported when a package is vendored
        from packaging.requirements import Requirement
    except ImportError:
        raise StratusError(f"bundling {name} needs the packaging library: {AWS_EXTRA}") from None

    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(LAMBDA_ENV):
            _vendor(requirement.name, dest, done)
