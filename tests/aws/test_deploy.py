"""``stratus synth``, ``deploy`` and ``destroy`` as a user runs them.

Deploying needs an AWS account, which CI has not; what is ours is tested here: the commands
run the CDK CLI with the right arguments on the assembly they synthesized, turn the stack's
outputs into an endpoints file in the shape ``stratus up`` writes, and fail loudly. The CLI
is replaced by a script that resolves the template's own ``StratusEndpoints`` output the way
CloudFormation would, so the JSON the stack will really output is what is checked. One test
runs the real, pinned CDK CLI on the assembly (it reads it without AWS credentials).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stratus.aws.deploy.deployer import cdk_command, endpoints_from_outputs
from stratus.aws.deploy.synth import SynthResult
from stratus.errors import StratusError
from tests.conftest import ROOT, TODO

FAKE_CDK = r'''
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_CDK_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "region": os.environ.get("AWS_REGION"),
                          "profile": os.environ.get("AWS_PROFILE")}) + "\n")
if os.environ.get("FAKE_CDK_FAIL"):
    sys.exit(3)
if args[0] == "deploy":
    stack, app = args[1], Path(args[args.index("--app") + 1])
    template = json.loads((app / f"{stack}.template.json").read_text())

    def resolve(v):
        if isinstance(v, str):
            return v
        (fn, arg), = v.items()
        if fn == "Ref":
            return {"AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com"}.get(arg, f"{arg}-physical")
        if fn == "Fn::GetAtt":
            return f"{arg[0]}-{arg[1]}"
        if fn == "Fn::Join":
            return arg[0].join(resolve(x) for x in arg[1])
        raise SystemExit(f"cannot resolve {fn}")
    outputs = {k: resolve(o["Value"]) for k, o in template["Outputs"].items()}
    Path(args[args.index("--outputs-file") + 1]).write_text(json.dumps({stack: outputs}))
'''


@pytest.fixture()
def fake_cdk(tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "fake_cdk.py"
    script.write_text(FAKE_CDK)
    credentials = tmp_path / "credentials"  # a default and a "dev" profile, with AWS's documented example keys
    credentials.write_text("".join(f"[{p}]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                                   "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
                                   for p in ("default", "dev")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "STRATUS_CDK": f"{sys.executable} {script}", "FAKE_CDK_LOG": str(tmp_path / "cdk.log"),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": "/nonexistent"}


def stratus(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stratus", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=240)


def calls(env: dict[str, str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(env["FAKE_CDK_LOG"]).read_text().splitlines()]


@pytest.mark.synth
def test_deploy_writes_endpoints_in_the_local_shape_and_destroy_removes_them(tmp_path: Path,
                                                                            fake_cdk: dict[str, str]) -> None:
    out = tmp_path / "out"
    r = stratus("deploy", str(TODO), "--out", str(out), "--no-dax", "--region", "eu-west-1", "--profile", "dev",
                "--bootstrap", env=fake_cdk)
    assert r.returncode == 0, r.stderr
    bootstrapped, deployed = calls(fake_cdk)
    assembly = out / "todo"
    assert bootstrapped["args"] == ["bootstrap", "--app", str(assembly)] and bootstrapped["region"] == "eu-west-1"
    assert deployed["args"][:4] == ["deploy", "stratus-todo", "--app", str(assembly)]
    assert deployed["args"][-2:] == ["--require-approval", "broadening"]
    assert deployed["region"] == "eu-west-1" and deployed["profile"] == "dev"

    doc = json.loads((out / "todo.endpoints.json").read_text())
    assert doc["provider"] == "aws" and doc["region"] == "eu-west-1" and doc["stack"] == "stratus-todo"
    todo = doc["apps"]["todo"]
    assert todo["api"] == todo["apis"]["api"]
    assert todo["api"].startswith("https://") and ".execute-api.eu-west-1.amazonaws.com/" in todo["api"]
    assert not todo["api"].endswith("/")  # clients append paths
    pool = todo["user_pools"]["users"]
    assert pool["id"] == todo["user_pool_id"] and pool["clients"]["app"] == todo["user_pool_client_id"]
    assert pool["issuer"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{todo['user_pool_id']}"
    assert set(todo["buckets"]) == {"files"} and todo["identity_pool_id"]
    assert json.loads(r.stdout[:r.stdout.rindex("}") + 1]) == doc  # printed too
    # the same keys stratus up writes for the app, so the same clients find everything
    local_keys = {"api", "apis", "user_pool_id", "user_pool_client_id", "user_pools", "identity_pool_id", "identity_pools",
                  "buckets"}
    assert set(todo) == local_keys

    r = stratus("synth", str(TODO), "--out", str(out))  # a later synthesis leaves the endpoints file alone
    assert r.returncode == 0 and (out / "todo.endpoints.json").is_file()
    assert f"todo: stack stratus-todo -> {out / 'todo' / 'stratus-todo.template.json'}" in r.stdout
    r = stratus("destroy", str(TODO), "--out", str(out), "--force", env=fake_cdk)
    assert r.returncode == 0, r.stderr
    destroyed = calls(fake_cdk)[2]
    assert destroyed["args"] == ["destroy", "stratus-todo", "--app", str(assembly), "--force"]
    assert not (out / "todo.endpoints.json").exists()
    assert "kept" in r.stdout


@pytest.mark.synth
def test_a_failing_cdk_cli_is_a_clear_error(tmp_path: Path, fake_cdk: dict[str, str]) -> None:
    r = stratus("deploy", str(TODO), "--out", str(tmp_path / "out"), "--no-dax",
                env={**fake_cdk, "FAKE_CDK_FAIL": "1"})
    assert r.returncode == 2 and "the CDK CLI failed (exit 3) on `cdk deploy`" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out" / "todo.endpoints.json").exists()


def test_outputs_without_the_endpoints_output_are_refused(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"stratus-todo": {"Other": "x"}}))
    with pytest.raises(StratusError, match="no usable StratusEndpoints output"):
        endpoints_from_outputs("stratus-todo", outputs)
    outputs.write_text(json.dumps({"stratus-todo": {"StratusEndpoints": "[1]"}}))
    with pytest.raises(StratusError, match="not an endpoints document"):
        endpoints_from_outputs("stratus-todo", outputs)


def test_synth_without_the_aws_extra_names_the_install() -> None:
    code = ("import sys; sys.modules['aws_cdk'] = None; from stratus.cli import main; "
            "sys.exit(main(['synth', 'apps/todo', '--out', '/nonexistent/never']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "needs the AWS CDK library: pip install 'stratus[aws]'" in r.stderr and "Traceback" not in r.stderr


def test_synth_of_a_folder_without_an_app_is_a_clear_error(tmp_path: Path) -> None:
    r = stratus("synth", str(tmp_path), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "stratus: error:" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.synth
def test_the_pinned_cdk_cli_reads_the_assembly(assemblies: Callable[[str], SynthResult]) -> None:
    """The real CDK CLI (fetched from the npm registry on first use) lists the synthesized stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    ls = subprocess.run([*cdk_command(), "ls", "--app", str(assemblies("todo").out_dir)], capture_output=True, text=True,
                        env={**env, "CDK_DISABLE_VERSION_CHECK": "1"}, timeout=240)
    assert ls.returncode == 0, ls.stderr[-2000:]
    assert ls.stdout.split() == ["stratus-todo"]


@pytest.mark.synth
def test_synth_needs_no_network_and_no_credentials(tmp_path: Path) -> None:
    """In a network namespace of its own (no interface up, not even loopback), with no AWS configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"HOME": str(tmp_path / "home"), "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    r = subprocess.run(["unshare", "-rn", sys.executable, "-m", "stratus", "synth", str(TODO), "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=240)
    assert r.returncode == 0, r.stderr
    template = json.loads((tmp_path / "todo" / "stratus-todo.template.json").read_text())
    assert "AWS::DAX::Cluster" in {res["Type"] for res in template["Resources"].values()}


def test_demo_endpoints_refuses_the_fresh_system_options(tmp_path: Path) -> None:
    r = stratus("demo", "--endpoints", str(tmp_path / "e.json"), "--keep")
    assert r.returncode == 2 and "--keep is for a fresh one" in r.stderr


def test_without_aws_credentials_nothing_is_run(tmp_path: Path, fake_cdk: dict[str, str]) -> None:
    env = fake_cdk | {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    for command in ("deploy", "destroy"):
        r = stratus(command, str(TODO), "--out", str(tmp_path / "out"), env=env)
        assert r.returncode == 2 and "no AWS credentials found" in r.stderr and "Traceback" not in r.stderr
    r = stratus("deploy", str(TODO), "--out", str(tmp_path / "out"), "--profile", "nosuch", env=env)
    assert r.returncode == 2 and "nosuch" in r.stderr and "Traceback" not in r.stderr
    assert not Path(env["FAKE_CDK_LOG"]).exists()  # the CDK CLI never ran
    assert not (tmp_path / "out").exists()  # nor did synthesis: credentials are checked first


def test_deploy_without_credentials_stops_before_loading_the_cdk(tmp_path: Path, fake_cdk: dict[str, str]) -> None:
    """The refusal comes before anything slow: the CDK library (and its Node process) is never even imported."""
    env = fake_cdk | {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    code = ("import sys; from stratus.cli import main\n"
            "status = main(['deploy', sys.argv[1], '--out', sys.argv[2]])\n"
            "print(status, sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'constructs')))")
    r = subprocess.run([sys.executable, "-c", code, str(TODO), str(tmp_path / "out")], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.stdout.strip() == "2 []", r.stderr
    assert "no AWS credentials found" in r.stderr
