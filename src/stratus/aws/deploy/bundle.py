"""The Lambda asset: the platform's runtime, the app, and the pure-Python packages the functions need.

Synthesis is offline, so nothing is downloaded: the asset is assembled from what is installed
here. Of the platform, only what a function runs goes in, by an allowlist (``SHIPPED``): the
core the app graph and handlers stand on, and the AWS runtime (``aws/runtime``: the entry point
and the adapters). The local provider, the commands and this deploy tooling never do, and a
module added to the platform stays out until it is listed. The app folder goes in whole but for
its tour (``stratus demo``'s), and extra distributions (amazon-dax-client when a table declares a cache) are copied with their
requirements from this environment. Lambda's Python runtime has boto3 and botocore; everything
else must be pure Python, since the functions run on arm64 whatever this machine is, and a
distribution with compiled code is refused by name.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from ...errors import StratusError
from .. import AWS_EXTRA

# what Lambda's Python runtime already provides (boto3 and what it needs)
IN_RUNTIME = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil"})
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".stratus", "cdk.out"}
# what a function runs, relative to the stratus package: files, and folders taken whole (left out, the rest
# cannot be imported on Lambda, and the asset's hash, so the functions, change only when the code they run does)
SHIPPED = ("__init__.py", "clock.py", "context.py", "errors.py", "events.py", "idempotency.py", "loader.py",
           "registry.py", "routing.py", "schema.py", "typeschema.py", "graph/", "ports/", "aws/__init__.py",
           "aws/runtime/")
# what an app folder holds for the tooling, not for its functions: its tour for `stratus demo`
APP_TOOLING = frozenset({"tour.py"})
# the functions' Python, against which requirement markers are read
LAMBDA_PYTHON = "3.14"
LAMBDA_ENV = {"python_version": LAMBDA_PYTHON, "python_full_version": f"{LAMBDA_PYTHON}.0", "sys_platform": "linux",
              "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
              "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


def build_asset(app_dir: Path, dest: Path, vendor: list[str]) -> list[str]:
    """Write the function code to ``dest``; the distributions vendored, with versions."""
    platform = Path(__file__).resolve().parents[2]
    for entry in SHIPPED:
        if entry.endswith("/"):
            _copy_tree(platform / entry, dest / "stratus" / entry)
        else:
            (dest / "stratus" / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(platform / entry, dest / "stratus" / entry)
    _copy_tree(app_dir.resolve(), dest / "apps" / app_dir.resolve().name, skip=APP_TOOLING)
    done: dict[str, str] = {}
    for name in vendor:
        _vendor(name, dest, done)
    return [f"{n}=={v}" for n, v in sorted(done.items())]


def _copy_tree(src: Path, dest: Path, skip: frozenset[str] = frozenset()) -> None:
    """Copy ``src`` to ``dest`` without caches, bytecode, and the files in ``skip`` at its top."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == src
        return {n for n in names if n in _SKIP_DIRS or n.endswith((".pyc", ".pyo")) or (top and n in skip)}
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
