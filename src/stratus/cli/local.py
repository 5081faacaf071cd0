"""``stratus up``, ``stats``, ``flush-cache`` and ``mail``: a system on this machine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import interrupts
from ..errors import StratusError

DEFAULT_DATA_DIR = Path(".stratus")


def register(sub: Any) -> None:
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
    up.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                    help="a proxy in front whose X-Forwarded-For names the client (repeatable; default: none, a "
                         "client's address is its connection's)")
    up.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                    help="close connections whose request line and headers take longer (default: 10)")
    up.add_argument("--max-connections", type=int, default=1000, metavar="N",
                    help="refuse new connections past this many open ones, with a 503 (default: 1000)")
    up.set_defaults(run=_up)

    stats = sub.add_parser("stats", help="show per-app request, latency, throttling and cache figures",
                           description="Read the running system's figures (requests, latency percentiles, "
                                       "throttled requests, response and table cache hit ratios).")
    stats.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    stats.add_argument("--json", action="store_true", help="print the raw JSON")
    stats.set_defaults(run=_stats)

    flush = sub.add_parser("flush-cache", help="empty the API response caches of a running system",
                           description="Drop every answer the running system's REST APIs have cached (their stage "
                                       "caches), or only one app's, and say how many each API held. On AWS this is "
                                       "the stage's 'Flush cache'.")
    flush.add_argument("app", nargs="?", help="only this app's APIs")
    flush.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    flush.set_defaults(run=_flush)


def register_mail(sub: Any) -> None:
    mail = sub.add_parser("mail", help="list the messages in the local mail outbox",
                          description="Without --smtp, the mail the apps and user pools send (confirmation codes, "
                                      "an app's own mail) is written to <data-dir>/outbox instead of being sent. "
                                      "List it, print one message, or print the latest code mailed to an address.")
    mail.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    shown = mail.add_mutually_exclusive_group()
    shown.add_argument("--show", type=int, metavar="N", help="print message N (1 = oldest) in full")
    shown.add_argument("--code", metavar="ADDRESS",
                       help="print only the latest confirmation code mailed to ADDRESS (for scripts)")
    mail.set_defaults(run=_mail)

    endpoints = sub.add_parser("endpoints", help="print a running system's endpoints, or one of them",
                               description="Print <data-dir>/endpoints.json, or the value at KEY, a dotted path "
                                           "into it (apps.todo.api, aws_endpoint, ca_file, ...), bare, for scripts.")
    endpoints.add_argument("key", nargs="?", metavar="KEY", help="a dotted path, e.g. apps.todo.user_pool_client_id")
    endpoints.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    endpoints.set_defaults(run=_endpoints)


def _up(args: argparse.Namespace) -> int:
    from ..loader import discover, load_app
    from ..local.server import UpOptions, serve

    folders = args.apps or discover(Path("apps"))
    if not folders:
        raise StratusError("no apps to run: ./apps has no folder with an app.py")
    apps = [load_app(f) for f in folders]
    interrupts.stop_if_noted()
    if not 0 <= args.port <= 65535:
        raise StratusError(f"--port must be 0-65535, got {args.port}")
    if not 0 < args.header_timeout <= 3600 or not 1 <= args.max_connections <= 100_000:
        raise StratusError("--header-timeout must be 0-3600 seconds and --max-connections 1-100000")
    return serve(apps, UpOptions(data_dir=args.data_dir, host=args.host, port=args.port, smtp=args.smtp,
                          manual_clock=args.manual_clock, region=args.region, log_level=args.log_level,
                          table_cache=not args.no_table_cache, api_cache=not args.no_api_cache,
                          throttle=not args.no_throttle, trusted_proxies=tuple(args.trusted_proxy),
                          head_timeout=args.header_timeout, max_connections=args.max_connections))


def _data_dir(path: Path) -> Path:
    """``--data-dir`` of a command that reads one: it must be there."""
    if not path.is_dir():
        raise StratusError(f"no data dir at {path}" + (" (it is a file)" if path.exists() else "")
                           + "; `stratus up` makes one (default: .stratus)")
    return path


def _running(data_dir: Path) -> dict[str, Any]:
    """The endpoints of the system running on ``data_dir`` (its lock, not a pid, says whether one runs)."""
    from ..local.server import DataDirLock
    file = _data_dir(data_dir) / "endpoints.json"
    holder = DataDirLock.holder(data_dir)
    if holder is None:
        try:
            pid = json.loads(file.read_text()).get("pid")
        except (OSError, ValueError, AttributeError):
            pid = None
        left = f": {file} names process {pid}, which no longer serves it (a run that was killed)" if pid else ""
        raise StratusError(f"no running system found on {data_dir}{left}; start one with `stratus up`")
    if not holder.get("endpoint"):
        raise StratusError(f"the system on {data_dir} (pid {holder.get('pid')}) is still starting; try again in a "
                           "moment")
    try:
        ep = json.loads(file.read_text())
    except (OSError, ValueError):
        ep = None
    if not isinstance(ep, dict) or not all(isinstance(ep.get(k), str) for k in ("aws_endpoint", "ca_file")):
        raise StratusError(f"{file} is not the running system's endpoints file (damaged, or not there); restart "
                           "the system to write it again")
    return ep


def _admin(data_dir: Path, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    """Call the running system's admin endpoint, found through its endpoints.json."""
    from .._https import HttpsJson
    ep = _running(data_dir)
    auth = {"authorization": f"Bearer {ep.get('operator_token', '')}"}
    try:
        return HttpsJson(ep["aws_endpoint"], ep["ca_file"], timeout=10).call(method, path, headers={**auth, **(headers or {})})[1]
    except OSError as exc:
        raise StratusError(f"the system at {ep['aws_endpoint']} does not answer: {exc}") from None


def _stats(args: argparse.Namespace) -> int:
    from . import table
    doc = _admin(args.data_dir, "GET", "/_stratus/stats")
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    rows = [("app/api", "requests", "p50 ms", "p99 ms", "throttled", "api cache hit %")]
    for app, a in doc["apps"].items():
        for api, s in a.get("apis", {}).items():
            rc = s["response_cache"]
            ratio = "off" if rc is None else "-" if rc["hit_ratio"] is None else f"{rc['hit_ratio'] * 100:.1f}"
            p50, p99 = s["latency_ms"]["p50"], s["latency_ms"]["p99"]
            rows.append((f"{app}/{api}", str(s["requests"]), "-" if p50 is None else str(p50),
                         "-" if p99 is None else str(p99), str(s["throttled"]), ratio))
    table(rows)
    caches = [(f"{app}/{t}", kind, str(c["hits"]), str(c["misses"]), str(c["evictions"]),
               f"{c['hits'] / (c['hits'] + c['misses']) * 100:.1f}" if c["hits"] + c["misses"] else "-")
              for app, a in doc["apps"].items() for t, tc in a.get("table_caches", {}).items()
              for kind, c in (("item", tc["item_cache"]), ("query", tc["query_cache"]))]
    if caches:
        print()
        table([("app/table", "cache", "hits", "misses", "evictions", "hit %"), *caches])
    return 0


def _flush(args: argparse.Namespace) -> int:
    doc = _admin(args.data_dir, "POST", "/_stratus/cache/flush", {"x-stratus-app": args.app} if args.app else None)
    if "flushed" not in doc:
        raise StratusError(str(doc.get("message", doc)))
    flushed = doc["flushed"]
    if not flushed:
        print("nothing to flush: no API of " + (f"app {args.app}" if args.app else "the running apps")
              + " has a response cache on")
    for api, count in flushed.items():
        print(f"flushed {api}: {count} cached answer{'' if count == 1 else 's'} dropped")
    return 0


def _mail(args: argparse.Namespace) -> int:
    from ..local.services.ses.mailers import latest_code, read_outbox
    from . import table
    outbox = _data_dir(args.data_dir) / "outbox"
    if args.code is not None:
        print(latest_code(outbox, args.code))
        return 0
    entries = read_outbox(outbox)
    if args.show is not None:
        if not 1 <= args.show <= len(entries):
            raise StratusError(f"no message {args.show}; the outbox has {len(entries)}")
        print(entries[args.show - 1].path.read_text())
        return 0
    if not entries:
        print(f"no messages in {args.data_dir / 'outbox'}")
        return 0
    table([("#", "date", "to", "subject")] + [(str(i), e.date, e.to, e.subject) for i, e in enumerate(entries, 1)])
    return 0


def _endpoints(args: argparse.Namespace) -> int:
    doc: Any = _running(args.data_dir)
    if args.key is None:
        print(json.dumps(doc, indent=2))
        return 0
    for part in args.key.split("."):
        if not isinstance(doc, dict) or part not in doc:
            raise StratusError(f"the endpoints have no {args.key!r} (no {part!r} there; keys: "
                               + (", ".join(sorted(doc)) if isinstance(doc, dict) else "none, it is a value") + ")")
        doc = doc[part]
    print(doc if isinstance(doc, str) else json.dumps(doc))
    return 0
