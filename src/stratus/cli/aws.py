"""``stratus synth``, ``deploy`` and ``destroy``: the same apps on AWS."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StratusError

if TYPE_CHECKING:
    from ..aws.deploy.synth import SynthResult


def register(sub: Any) -> None:
    synth = sub.add_parser("synth", help="turn an app into an AWS CDK app and CloudFormation (offline)",
                           description="Synthesize each app into a cloud assembly (CloudFormation template and "
                                       "Lambda asset) under OUT/<app>, offline and without AWS credentials. "
                                       "Needs the aws extra: pip install 'stratus[aws]'.")
    _aws_args(synth, shape=True, account=False)
    synth.set_defaults(run=_synth)
    deploy = sub.add_parser("deploy", help="synthesize an app and deploy it to AWS with the CDK CLI",
                            description="Check your AWS credentials, synthesize, then run the CDK CLI's deploy and "
                                        "write the stack's addresses as an endpoints file (the shape stratus up "
                                        "writes), so `stratus demo --endpoints FILE` tours the deployment.")
    _aws_args(deploy, shape=True, account=True)
    deploy.add_argument("--endpoints", type=Path, metavar="FILE",
                        help="where to write the endpoints file (default: OUT/<app>.endpoints.json)")
    deploy.add_argument("--bootstrap", action="store_true",
                        help="first run the CDK's bootstrap (once per account and region: its asset bucket and roles)")
    deploy.add_argument("--require-approval", default="broadening", choices=["never", "any-change", "broadening"],
                        help="when the CDK CLI asks before changing security settings (default: broadening)")
    deploy.set_defaults(run=_deploy)
    destroy = sub.add_parser("destroy", help="delete an app's stack from AWS with the CDK CLI",
                             description="Delete the app's stack. Tables, buckets and user pools are kept "
                                         "(removal policy RETAIN), as AWS keeps data unless told otherwise.")
    _aws_args(destroy, shape=False, account=True)
    destroy.add_argument("--endpoints", type=Path, metavar="FILE",
                         help="the endpoints file deploy wrote, removed once the stack is gone "
                              "(default: OUT/<app>.endpoints.json)")
    destroy.add_argument("--force", action="store_true", help="do not ask for confirmation")
    destroy.set_defaults(run=_destroy)


def _aws_args(p: argparse.ArgumentParser, *, shape: bool, account: bool) -> None:
    """The arguments of synth, deploy and destroy: which apps, where, the stack's shape, which AWS account."""
    p.add_argument("apps", nargs="*", type=Path, metavar="APP_DIR",
                   help="app folders (default: every folder under ./apps that has an app.py)")
    p.add_argument("-o", "--out", type=Path, default=Path("cdk.out"), help="output folder (default: cdk.out)")
    if shape:
        p.add_argument("--no-dax", action="store_true",
                       help="leave out the DAX cluster (and its VPC): cached tables are read from DynamoDB directly")
        p.add_argument("--stage", default="prod", help="the REST APIs' stage name (default: prod)")
    if account:
        p.add_argument("--region", help="AWS region (default: your AWS configuration's)")
        p.add_argument("--profile", help="AWS profile to use")


def _folders(args: argparse.Namespace) -> list[Path]:
    from ..loader import discover
    folders: list[Path] = args.apps or discover(Path("apps"))
    if not folders:
        raise StratusError("no apps to synthesize: ./apps has no folder with an app.py")
    return folders


def _synth_all(args: argparse.Namespace, folders: list[Path]) -> list[SynthResult]:
    from ..aws.deploy.synth import SynthOptions, synthesize
    from ..loader import load_app

    options = SynthOptions(dax=not getattr(args, "no_dax", False), stage=getattr(args, "stage", "prod"))
    folders = list(dict.fromkeys(f.resolve() for f in folders))  # one folder named twice is one app
    names = {folder: load_app(folder).name for folder in folders}  # OUT/<app>, whatever its folder is called
    if len(set(names.values())) < len(names):  # both would go to one OUT/<app>, and to one stack
        twice = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
        raise StratusError(f"two apps share a name: {', '.join(twice)} (each app's name must be its own)")
    results = []
    for folder in folders:
        name = names[folder]
        print(f"synthesizing {name} with the AWS CDK into {args.out / name} (a few seconds)...", file=sys.stderr,
              flush=True)
        result = synthesize(folder, args.out / name, options)
        for warning in result.warnings:
            print(f"stratus: warning: {warning}", file=sys.stderr)
        results.append(result)
    return results


def _synth(args: argparse.Namespace) -> int:
    for r in _synth_all(args, _folders(args)):
        vendored = f"; bundled {', '.join(r.vendored)}" if r.vendored else ""
        print(f"{r.app}: stack {r.stack_name} -> {r.template}{vendored}")
    return 0


def _with_endpoints(args: argparse.Namespace, command: str) -> list[tuple[SynthResult, Path]]:
    """Each app synthesized, with its endpoints file: ``--endpoints`` for a single app, else beside the app's
    assembly (not inside it: each synthesis replaces the assembly folder). Credentials are checked first:
    without them nothing is synthesized."""
    from ..aws.deploy.credentials import check_credentials
    folders = _folders(args)
    if args.endpoints and len(folders) != 1:
        raise StratusError(f"--endpoints names one file: {command} one APP_DIR at a time with it")
    check_credentials(args.profile)
    return [(r, args.endpoints or r.out_dir.with_name(f"{r.out_dir.name}.endpoints.json"))
            for r in _synth_all(args, folders)]


def _deploy(args: argparse.Namespace) -> int:
    from ..aws.deploy.deployer import deploy
    for result, target in _with_endpoints(args, "deploy"):
        doc = deploy(result, target, region=args.region, profile=args.profile, require_approval=args.require_approval,
                     bootstrap=args.bootstrap)
        print(json.dumps(doc, indent=2))
        print(f"endpoints written to {target}; tour them with: stratus demo --endpoints {target}")
    return 0


def _destroy(args: argparse.Namespace) -> int:
    from ..aws.deploy.deployer import destroy
    for result, endpoints in _with_endpoints(args, "destroy"):
        destroy(result, endpoints, region=args.region, profile=args.profile, force=args.force)
        print(f"{result.stack_name} deleted; its tables, buckets and user pools were kept (delete them in the "
              "console or with the AWS CLI once their data is not needed)")
    return 0
