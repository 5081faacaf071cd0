"""docs/guide.md stays true.

Each ```python and ```sh block of the guide follows a tag, and each tag is checked here:

- ``<!-- tutorial:FILE -->``: the tutorial's code. The blocks tagged with one FILE, two blank lines apart (as
  top-level definitions are), are docs/tutorial/FILE exactly: the tutorial's app and tests, in the repository.
- ``<!-- tutorial:run -->``, ``tutorial:try``, ``tutorial:test``, ``tutorial:synth``: the tutorial's commands, run
  as written in a copy of docs/tutorial, with only what must differ on a test machine changed (said where done).
- ``<!-- example:app.py -->`` and ``<!-- example:test -->``: the later sections' app, put together from its
  blocks, passes the guide's own in-process test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, start

GUIDE = ROOT / "docs" / "guide.md"
TUTORIAL = ROOT / "docs" / "tutorial"
COMMANDS = ("run", "try", "test", "synth")
TAGGED = re.compile(r"<!-- (tutorial|example):(\S+) -->\n```(\w+)\n(.*?)```", re.DOTALL)


def _blocks(kind: str, name: str | None = None) -> list[str]:
    return [code for k, n, _, code in TAGGED.findall(GUIDE.read_text()) if k == kind and name in (None, n)]


def _commands(name: str) -> list[str]:
    """The commands of the tutorial's ```sh block ``name``, a line each."""
    (block,) = _blocks("tutorial", name)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _workdir(tmp_path: Path) -> Path:
    """A copy of the tutorial's folder, as a reader has it after writing its files: where its commands run."""
    work = tmp_path / "work"
    shutil.copytree(TUTORIAL, work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".stratus",
                                                                   "cdk.out"))
    return work


def _shell(command: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``command`` in a shell, in ``cwd``, with this environment's ``stratus`` and ``python`` first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_every_code_block_is_checked() -> None:
    text = GUIDE.read_text()
    assert len(re.findall(r"^```(?:python|sh)$", text, re.MULTILINE)) == len(TAGGED.findall(text))
    for kind, name, lang, _ in TAGGED.findall(text):
        if kind == "tutorial" and name in COMMANDS:
            assert lang == "sh", name
        elif kind == "tutorial":
            assert lang == "python" and (TUTORIAL / name).is_file(), name
        else:
            assert kind == "example" and name in ("app.py", "test") and lang == "python", name
    assert all(_blocks("tutorial", name) for name in COMMANDS)


def test_the_tutorials_code_is_its_files() -> None:
    shown = {name for k, name, _, _ in TAGGED.findall(GUIDE.read_text()) if k == "tutorial" and name not in COMMANDS}
    files = {p.relative_to(TUTORIAL).as_posix() for p in TUTORIAL.rglob("*.py") if "__pycache__" not in p.parts}
    assert shown == files == {"notes/app.py", "test_notes.py"}
    for name in files:
        assert "\n\n".join(_blocks("tutorial", name)) == (TUTORIAL / name).read_text(), \
            f"docs/guide.md shows docs/tutorial/{name} otherwise: make them one"


def test_the_tutorial_runs_and_passes_its_tests_as_written(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    (up,) = _commands("run")
    argv = shlex.split(up)
    assert argv[:2] == ["stratus", "up"] and all(not a.startswith("-") for a in argv[2:]), up
    # `stratus up notes`, started as the tests start every system (`python -m stratus up`, waiting for its
    # endpoints.json): its data dir is the default, .stratus in the folder it runs in; the port is 0 (a free one)
    # instead of 4580, which another system on this machine may hold
    system = start(work / ".stratus", *(work / a for a in argv[2:]))
    try:
        (curl,) = _commands("try")
        assert ":4580/" in curl
        if shutil.which("curl") is None:
            pytest.fail("the guide's tutorial uses curl: install it (apt-get install curl)")
        done = _shell(curl.replace(":4580/", f":{system.port}/"), work)  # the port it got
        assert done.returncode == 0 and json.loads(done.stdout) == {"status": "ok"}, done.stderr

        (test,) = _commands("test")
        done = _shell(test, work)
        assert done.returncode == 0 and " 4 passed" in done.stdout, done.stdout + done.stderr
    finally:
        assert system.stop() == 0


@pytest.mark.synth
def test_the_tutorial_synthesizes_as_written(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    (synth,) = _commands("synth")
    done = _shell(synth, work)
    assert done.returncode == 0, done.stdout + done.stderr
    template = json.loads((work / "cdk.out" / "notes" / "stratus-notes.template.json").read_text())
    resources = template["Resources"].values()
    kinds = [r["Type"] for r in resources]
    for kind in ("AWS::Cognito::UserPool", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::ApiGateway::RestApi"):
        assert kinds.count(kind) == 1, kind
    assert kinds.count("AWS::Lambda::Function") == 6  # a function per route
    methods = {r["Properties"]["OperationName"]: r["Properties"]["AuthorizationType"]
               for r in resources if r["Type"] == "AWS::ApiGateway::Method"}
    assert methods == {"health": "NONE", **{op: "COGNITO_USER_POOLS" for op in
                                            ("me", "create_note", "list_notes", "put_text", "get_text")}}


def test_the_guides_app_passes_the_guides_test(tmp_path: Path) -> None:
    app_dir = tmp_path / "journal"
    app_dir.mkdir()
    (app_dir / "app.py").write_text("\n".join(_blocks("example", "app.py")))
    (testing,) = _blocks("example", "test")
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(testing).replace('"apps/journal"', repr(str(app_dir))), namespace)  # noqa: S102
    namespace["test_notes"]()  # type: ignore[operator]
