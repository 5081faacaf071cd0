"""The Lambda asset: the platform's runtime, the app, and the pure-Python packages the functions need.

Synthesis is offline, so nothing is downloaded: the asset is assembled from what is installed
here. Of the platform, only what a function runs goes in, by an allowlist (``SHIPPED``): the
core the app graph and handlers stand on, and the AWS runtime (``aws/runtime``: the entry point
and the adapters). The local provider, the commands and this deploy tooling never do, and a
module added to the platform stays out until it is listed. The app folder goes in whole but for
its tour (``stratus demo``'s), and extra distributions (amazon-dax-client when a table declares a cache, what
the app's ``requirements.txt`` names) are copied with their requirements from this environment. Lambda's Python
runtime has boto3 and botocore. The functions run on arm64 whatever this machine is, so a distribution with
compiled code (Pillow) goes in as its Linux arm64 wheel for Lambda's Python, of the version installed here: taken
from the wheel cache (``$STRATUS_WHEEL_CACHE``, default ``~/.cache/stratus/wheels``), or fetched into it from
PyPI by pip once. Offline with an empty cache, synthesis stops and says which wheel to put there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
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


# the wheels of Lambda's arm64 Python (glibc 2.34 on Amazon Linux 2023)
WHEEL_TAGS = [*(a for glibc in (34, 28, 27, 24, 17) for a in ("--platform", f"manylinux_2_{glibc}_aarch64")),
              "--platform", "manylinux2014_aarch64", "--python-version", LAMBDA_PYTHON, "--implementation", "cp",
              "--abi", "cp" + LAMBDA_PYTHON.replace(".", ""), "--abi", "abi3", "--abi", "none"]


def app_requirements(app_dir: Path) -> list[str]:
    """What the app's own code imports beyond the platform: the names its ``requirements.txt`` lists (checked
    against what is installed here, which is what goes in)."""
    path = app_dir / "requirements.txt"
    if not path.is_file():
        return []
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        raise StratusError(f"reading {path} needs the packaging library: {AWS_EXTRA}") from None
    names = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if text.startswith("-"):
            raise StratusError(f"{path}, line {number}: only requirements are read here (a name, a version, a "
                               f"marker), not options such as {text.split()[0]}")
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise StratusError(f"{path}, line {number}: {exc}") from None
        if req.marker is not None and not req.marker.evaluate(LAMBDA_ENV):
            continue  # not for Lambda's Python
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            raise StratusError(f"{path} names {req.name}, which is not installed here (pip install {text!r})") from None
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            raise StratusError(f"{path} wants {text}, but {req.name} {installed} is installed here, and that is what "
                               "the functions would get")
        names.append(req.name)
    return names


def wheel_cache() -> Path:
    return Path(os.environ.get("STRATUS_WHEEL_CACHE") or Path.home() / ".cache" / "stratus" / "wheels")


def _lambda_wheel(path: Path, name: str, version: str) -> bool:
    """Whether ``path`` is a wheel of ``name`` ``version`` that Lambda's arm64 Python runs: CPython of its version
    (or the stable ABI, or pure), glibc-based (manylinux, at most Amazon Linux 2023's glibc 2.34), aarch64."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    try:
        wheel_name, wheel_version, _, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename:
        return False
    if _canonical(wheel_name) != _canonical(name) or str(wheel_version) != version:
        return False
    python = "cp" + LAMBDA_PYTHON.replace(".", "")
    for tag in tags:
        glibc = re.fullmatch(r"manylinux_2_(\d+)_aarch64", tag.platform)
        platform_ok = tag.platform == "manylinux2014_aarch64" or (glibc is not None and int(glibc.group(1)) <= 34)
        abi_ok = (tag.interpreter == python and tag.abi in (python, "none")) or \
            (tag.abi == "abi3" and tag.interpreter.startswith("cp3") and int(tag.interpreter[3:]) <= int(python[3:]))
        if platform_ok and abi_ok:
            return True
    return False


def _arm64_wheel(name: str, version: str) -> Path:
    """The Linux arm64 wheel of ``name`` ``version`` for Lambda's Python: from the cache, or fetched into it."""
    cache = wheel_cache()

    def cached() -> Path | None:
        found = sorted(w for w in cache.glob("*.whl") if _lambda_wheel(w, name, version))
        return found[0] if found else None
    if (wheel := cached()) is not None:
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                               "--only-binary=:all:", "--no-deps", *WHEEL_TAGS, "--dest", str(cache),
                               f"{name}=={version}"], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        done = subprocess.CompletedProcess([], 1, "", str(exc))
    if (wheel := cached()) is None:
        why = (done.stderr.strip().splitlines() or ["pip found none"])[-1]
        raise StratusError(f"the functions need the Linux arm64 build of {name} {version} (it has compiled code), "
                           f"which synthesis fetches from PyPI once and keeps in {cache}; fetching it failed "
                           f"({why}). Online, run synthesis again; offline, put its manylinux aarch64 wheel for "
                           f"CPython {LAMBDA_PYTHON} there")
    return wheel


def _extract_wheel(wheel: Path, dest: Path) -> None:
    """What installing ``wheel`` puts in site-packages: its files, and its ``.data`` folder's purelib and platlib
    at the top (scripts, headers and data are not for a function)."""
    with zipfile.ZipFile(wheel) as z:
        for member in z.infolist():
            parts = member.filename.split("/")
            if ".." in parts or member.filename.startswith("/") or member.is_dir():
                continue
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


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
    if any(str(f).endswith((".so", ".pyd", ".dylib")) for f in files):  # this machine's build will not do
        _extract_wheel(_arm64_wheel(name, dist.version), dest)
    else:
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
