"""The ``stratus`` command: thin commands over the local provider.

Known failures (``StratusError``) print one line and exit 2; a traceback only
with ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import StratusError

if TYPE_CHECKING:
    from .aws.synth import SynthResult

DEFAULT_DATA_DIR = Path(".stratus")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stratus",
        description="Run classic AWS serverless architectures whole on one machine, and ship the same "
                    "app code to AWS.",
        epilog="Working today: MyTodoList (apps/todo), locally and on AWS. See README.md.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run apps locally over HTTPS until interrupted",
                        description="Run apps on embedded engines, HTTPS with a local CA. Writes "
                                    "<data-dir>/endpoints.json once ready; Ctrl-C or SIGTERM stops cleanly.")
    up.add_argument("apps", nargs="*", type=Path, metavar="APP_DIR",
                    help="app folders (default: every folder under ./apps that has an app.py)")
    up.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    up.add_argument("--port", type=int, default=4580, help="port to listen on; 0 picks a free one (default: 4580)")
    up.add_argument("--smtp", metavar="HOST:PORT", help="send mail to this SMTP server instead of the outbox folder")
    up.add_argument("--manual-clock", action="store_true",
                    help="start a clock that only moves via POST /_stratus/clock (for tests)")
    up.add_argument("--region", default="us-east-1", help="region reported to clients (default: us-east-1)")
    up.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    up.add_argument("--no-table-cache", action="store_true", help="run declared table caches as plain tables")
    up.add_argument("--no-api-cache", action="store_true", help="run declared API stage caches as off")
    up.add_argument("--no-throttle", action="store_true", help="do not throttle the REST APIs (for load tests)")

    stats = sub.add_parser("stats", help="show per-app request, latency, throttling and cache figures",
                           description="Read the running system's figures (requests, latency percentiles, "
                                       "throttled requests, response and table cache hit ratios).")
    stats.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    stats.add_argument("--json", action="store_true", help="print the raw JSON")

    flush = sub.add_parser("flush-cache", help="empty the API response caches of a running system")
    flush.add_argument("app", nargs="?", help="only this app's APIs")
    flush.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")

    demo = sub.add_parser("demo", help="walk an app's flows as a client would, on a fresh system or a running one",
                          description="Start a fresh system in a temporary data dir (or, with --endpoints, take a "
                                      "running one, local or on AWS), walk each working app's flows with real "
                                      "clients, print each step with its latency, and exit non-zero if any step "
                                      "fails.")
    demo.add_argument("--apps-dir", type=Path, help="folder holding the apps (default: ./apps)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary data dir and print its path")
    demo.add_argument("--endpoints", type=Path, metavar="FILE",
                      help="tour a running system instead: a local endpoints.json, or the file stratus deploy wrote")

    synth = sub.add_parser("synth", help="turn an app into an AWS CDK app and CloudFormation (offline)",
                           description="Synthesize each app into a cloud assembly (CloudFormation template and "
                                       "Lambda asset) under OUT/<app>, offline and without AWS credentials. "
                                       "Needs the aws extra: pip install 'stratus[aws]'.")
    _aws_args(synth, shape=True, account=False)
    deploy = sub.add_parser("deploy", help="synthesize an app and deploy it to AWS with the CDK CLI",
                            description="Synthesize, then run the CDK CLI's deploy with your AWS credentials, and "
                                        "write the stack's addresses as an endpoints file (the shape stratus up "
                                        "writes), so `stratus demo --endpoints FILE` tours the deployment.")
    _aws_args(deploy, shape=True, account=True)
    deploy.add_argument("--endpoints", type=Path, metavar="FILE",
                        help="where to write the endpoints file (default: OUT/<app>.endpoints.json)")
    deploy.add_argument("--bootstrap", action="store_true",
                        help="first run the CDK's bootstrap (once per account and region: its asset bucket and roles)")
    deploy.add_argument("--require-approval", default="broadening", choices=["never", "any-change", "broadening"],
                        help="when the CDK CLI asks before changing security settings (default: broadening)")
    destroy = sub.add_parser("destroy", help="delete an app's stack from AWS with the CDK CLI",
                             description="Delete the app's stack. Tables, buckets and user pools are kept "
                                         "(removal policy RETAIN), as AWS keeps data unless told otherwise.")
    _aws_args(destroy, shape=False, account=True)
    destroy.add_argument("--endpoints", type=Path, metavar="FILE",
                         help="the endpoints file deploy wrote, removed once the stack is gone "
                              "(default: OUT/<app>.endpoints.json)")
    destroy.add_argument("--force", action="store_true", help="do not ask for confirmation")

    mail = sub.add_parser("mail", help="list the messages in the local mail outbox")
    mail.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    mail.add_argument("--show", type=int, metavar="N", help="print message N (1 = oldest) in full")
    return p


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


def _synth_all(args: argparse.Namespace) -> list[SynthResult]:
    from .aws.synth import SynthOptions, synthesize
    from .loader import discover

    folders = args.apps or discover(Path("apps"))
    if not folders:
        raise StratusError("no apps to synthesize: ./apps has no folder with an app.py")
    options = SynthOptions(dax=not getattr(args, "no_dax", False), stage=getattr(args, "stage", "prod"))
    results = []
    for folder in folders:
        result = synthesize(folder, args.out / folder.resolve().name, options)
        for warning in result.warnings:
            print(f"stratus: warning: {warning}", file=sys.stderr)
        results.append(result)
    return results


def _cmd_synth(args: argparse.Namespace) -> int:
    for r in _synth_all(args):
        vendored = f"; bundled {', '.join(r.vendored)}" if r.vendored else ""
        print(f"{r.app}: stack {r.stack_name} -> {r.template}{vendored}")
    return 0


def _with_endpoints(args: argparse.Namespace, command: str) -> list[tuple[SynthResult, Path]]:
    """Each app synthesized, with its endpoints file: ``--endpoints`` for a single app, else beside the app's
    assembly (not inside it: each synthesis replaces the assembly folder)."""
    results = _synth_all(args)
    if args.endpoints and len(results) != 1:
        raise StratusError(f"--endpoints names one file: {command} one APP_DIR at a time with it")
    return [(r, args.endpoints or r.out_dir.with_name(f"{r.out_dir.name}.endpoints.json")) for r in results]


def _cmd_deploy(args: argparse.Namespace) -> int:
    import json

    from .aws.deploy import deploy
    for result, target in _with_endpoints(args, "deploy"):
        doc = deploy(result, target, region=args.region, profile=args.profile, require_approval=args.require_approval,
                     bootstrap=args.bootstrap)
        print(json.dumps(doc, indent=2))
        print(f"endpoints written to {target}; tour them with: stratus demo --endpoints {target}")
    return 0


def _cmd_destroy(args: argparse.Namespace) -> int:
    from .aws.deploy import destroy
    for result, endpoints in _with_endpoints(args, "destroy"):
        destroy(result, endpoints, region=args.region, profile=args.profile, force=args.force)
        print(f"{result.stack_name} deleted; its tables, buckets and user pools were kept (delete them in the "
              "console or with the AWS CLI once their data is not needed)")
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from .loader import discover, load_app
    from .local.server import UpOptions, serve

    folders = args.apps or discover(Path("apps"))
    if not folders:
        raise StratusError("no apps to run: ./apps has no folder with an app.py")
    apps = [load_app(f) for f in folders]
    if not 0 <= args.port <= 65535:
        raise StratusError(f"--port must be 0-65535, got {args.port}")
    serve(apps, UpOptions(data_dir=args.data_dir, host=args.host, port=args.port, smtp=args.smtp,
                          manual_clock=args.manual_clock, region=args.region, log_level=args.log_level,
                          table_cache=not args.no_table_cache, api_cache=not args.no_api_cache,
                          throttle=not args.no_throttle))
    return 0


def _admin(data_dir: Path, method: str, path: str, headers: dict[str, str] | None = None) -> object:
    """Call the running system's admin endpoint, found through its endpoints.json."""
    import json

    from ._https import HttpsJson
    try:
        ep = json.loads((data_dir / "endpoints.json").read_text())
    except (OSError, ValueError):
        raise StratusError(f"no running system found: {data_dir / 'endpoints.json'} is missing") from None
    try:
        return HttpsJson(ep["aws_endpoint"], ep["ca_file"], timeout=10).call(method, path, headers=headers)[1]
    except OSError as exc:
        raise StratusError(f"the system at {ep['aws_endpoint']} does not answer: {exc}") from None


def _cmd_stats(args: argparse.Namespace) -> int:
    import json
    doc: dict = _admin(args.data_dir, "GET", "/_stratus/stats")  # type: ignore[assignment]
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    rows = [("app/api", "requests", "p50 ms", "p99 ms", "throttled", "api cache hit %")]
    for app, a in doc["apps"].items():
        for api, s in a["apis"].items():
            rc = s["response_cache"]
            ratio = "off" if rc is None else "-" if rc["hit_ratio"] is None else f"{rc['hit_ratio'] * 100:.1f}"
            p50, p99 = s["latency_ms"]["p50"], s["latency_ms"]["p99"]
            rows.append((f"{app}/{api}", str(s["requests"]), "-" if p50 is None else str(p50),
                         "-" if p99 is None else str(p99), str(s["throttled"]), ratio))
    _table(rows)
    caches = [(f"{app}/{t}", kind, str(c["hits"]), str(c["misses"]), str(c["evictions"]),
               f"{c['hits'] / (c['hits'] + c['misses']) * 100:.1f}" if c["hits"] + c["misses"] else "-")
              for app, a in doc["apps"].items() for t, tc in a["table_caches"].items()
              for kind, c in (("item", tc["item_cache"]), ("query", tc["query_cache"]))]
    if caches:
        print()
        _table([("app/table", "cache", "hits", "misses", "evictions", "hit %"), *caches])
    return 0


def _cmd_flush(args: argparse.Namespace) -> int:
    doc: dict = _admin(args.data_dir, "POST", "/_stratus/cache/flush",  # type: ignore[assignment]
                       {"x-stratus-app": args.app} if args.app else None)
    if "flushed" not in doc:
        raise StratusError(str(doc.get("message", doc)))
    print("flushed: " + (", ".join(doc["flushed"]) or "nothing (no API response cache is on)"))
    return 0


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    if args.endpoints and (args.apps_dir or args.keep):
        raise StratusError("--endpoints tours a running system: --apps-dir and --keep are for a fresh one")
    return run_demo(apps_dir=args.apps_dir, keep=args.keep, endpoints=args.endpoints)


def _cmd_mail(args: argparse.Namespace) -> int:
    from .local.mail import read_outbox
    entries = read_outbox(args.data_dir / "outbox")
    if args.show is not None:
        if not 1 <= args.show <= len(entries):
            raise StratusError(f"no message {args.show}; the outbox has {len(entries)}")
        print(entries[args.show - 1].path.read_text())
        return 0
    if not entries:
        print(f"no messages in {args.data_dir / 'outbox'}")
        return 0
    _table([("#", "date", "to", "subject")] + [(str(i), e.date, e.to, e.subject) for i, e in enumerate(entries, 1)])
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    commands = {"up": _cmd_up, "demo": _cmd_demo, "mail": _cmd_mail, "stats": _cmd_stats, "flush-cache": _cmd_flush,
                "synth": _cmd_synth, "deploy": _cmd_deploy, "destroy": _cmd_destroy}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        return 130
    except StratusError as exc:
        if args.debug:
            raise
        print(f"stratus: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
