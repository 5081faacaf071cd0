"""``stratus up``, ``stats``, ``flush-cache``, ``dead-letters``, ``redrive``, ``logs``, ``region``, ``invalidate`` and
``mail``: a system on this
machine."""

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

    stats = sub.add_parser("stats", help="show per-app request, latency, throttling, cache, trigger and edge figures",
                           description="Read the running system's figures (requests, latency percentiles, "
                                       "throttled requests, response and table cache hit ratios, and each "
                                       "trigger's delivered, retried and dead-lettered events).")
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

    dead = sub.add_parser("dead-letters", help="list the events triggers gave up on",
                          description="List the dead letters of the running system's triggers (or one app's): "
                                      "each event a handler failed on until its attempts ran out, with the error, "
                                      "the attempts and their times. `stratus redrive` sends them again.")
    dead.add_argument("app", nargs="?", help="only this app's triggers")
    dead.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    dead.add_argument("--json", action="store_true", help="print the raw JSON, events included")
    dead.set_defaults(run=_dead_letters)

    redrive = sub.add_parser("redrive", help="send a trigger's dead letters to its handler again",
                             description="Send the dead letters of one trigger (the handler's name) to it again, "
                                         "each with its attempts counted afresh: after fixing the handler, or what "
                                         "it needed.")
    redrive.add_argument("app", help="the app")
    redrive.add_argument("trigger", help="the trigger: its handler's name (send_welcome or send-welcome)")
    redrive.add_argument("--id", type=int, action="append", dest="ids", metavar="ID",
                         help="only this dead letter (repeatable; default: all of the trigger's)")
    redrive.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    redrive.set_defaults(run=_redrive)

    logs = sub.add_parser("logs", help="show the triggers' handler calls: outcome, duration, output",
                          description="Show every recent call of the running system's trigger handlers (the last "
                                      "1000 per trigger): request id, trigger, duration, outcome, and what the "
                                      "handler printed or logged; a failed call shows its traceback.")
    logs.add_argument("app", nargs="?", help="only this app's triggers")
    logs.add_argument("--handler", metavar="H", help="only this trigger (its handler's name)")
    logs.add_argument("--since", default="1h", metavar="AGE",
                      help="only calls this recent: 30s, 10m, 2h, 1d (default: 1h)")
    logs.add_argument("--follow", action="store_true", help="keep showing new calls until interrupted")
    logs.add_argument("--json", action="store_true", help="one JSON object per call")
    logs.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    logs.set_defaults(run=_logs)

    region = sub.add_parser("region", help="cut or heal replication of a region of an app's global tables",
                            description="Pause replication into and out of one region of an app's global tables "
                                        "(an outage between regions: each side still takes writes, and its changes "
                                        "wait), or resume it: the regions then converge, the later write of an item "
                                        "winning in every region.")
    region.add_argument("action", choices=("pause", "resume"))
    region.add_argument("app", help="the app")
    region.add_argument("region", help="one of its regions (us-east-1, eu-west-1, ...)")
    region.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    region.set_defaults(run=_region)

    inv = sub.add_parser("invalidate", help="drop paths from a distribution's edge cache",
                         description="Drop the answers a running distribution keeps for PATHs (a CloudFront "
                                     "invalidation): each starts with /, and may end with * for every path that "
                                     "starts so (/*, /posts/*); every query string of a path goes too. At most 3,000 "
                                     "paths, 15 of them with *. Done when the command returns.")
    inv.add_argument("app", help="the app")
    inv.add_argument("distribution", help="its distribution")
    inv.add_argument("paths", nargs="+", metavar="PATH", help="a path, or a path ending in * (quote it in the shell)")
    inv.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state folder (default: .stratus)")
    inv.set_defaults(run=_invalidate)


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


def _admin(data_dir: Path, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None) -> Any:
    """Call the running system's admin endpoint, found through its endpoints.json; its error, one line."""
    from .._https import HttpsJson
    ep = _running(data_dir)
    auth = {"authorization": f"Bearer {ep.get('operator_token', '')}"}
    try:
        status, doc = HttpsJson(ep["aws_endpoint"], ep["ca_file"], timeout=10).call(
            method, path, body, headers={**auth, **(headers or {})})
    except OSError as exc:
        raise StratusError(f"the system at {ep['aws_endpoint']} does not answer: {exc}") from None
    if status >= 400:
        raise StratusError(str(doc.get("message", doc)) if isinstance(doc, dict) else f"status {status}")
    return doc


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
    triggers = [(f"{app}/{t}", str(f["delivered"]), str(f["retried"]), str(f["dead_lettered"]), str(f["dead_letters"]),
                 "-" if f["oldest_undelivered_age"] is None else f"{f['oldest_undelivered_age']:.1f}")
                for app, a in doc["apps"].items() for t, f in a.get("triggers", {}).items()]
    if triggers:
        print()
        table([("app/trigger", "delivered", "retried", "dead-lettered", "dead letters", "oldest waiting s"),
               *triggers])
    edges = [(f"{app}/{d}", str(f["requests"]), f"{f['hit_ratio'] * 100:.1f}", str(f["origin_requests"]),
              str(f["collapsed"]), _size(f["bytes_to_viewers"]), _size(f["bytes_from_origin"]))
             for app, a in doc["apps"].items() for d, f in a.get("distributions", {}).items()]
    if edges:
        print()
        table([("app/distribution", "requests", "hit %", "origin requests", "collapsed", "to viewers",
                "from origin"), *edges])
    regions = [(f"{app}/{r}", "paused" if f["paused"] else "", t, str(g["pending"]), f"{g['lag_seconds']:.3f}",
                "-" if g["p50_lag_ms"] is None else str(g["p50_lag_ms"]))
               for app, a in doc["apps"].items() for r, f in a.get("regions", {}).items()
               for t, g in f["replication"].items()]
    if regions:
        print()
        table([("app/region", "replication", "table", "changes on the way", "lag s", "p50 lag ms"), *regions])
    return 0


def _invalidate(args: argparse.Namespace) -> int:
    doc = _admin(args.data_dir, "POST", "/_stratus/invalidate",
                 body={"app": args.app, "distribution": args.distribution, "paths": args.paths})
    n = doc["removed"]
    print(f"invalidation {doc['id']} of {args.app}/{args.distribution}: {doc['status']}, "
          f"{len(doc['paths'])} path{'' if len(doc['paths']) == 1 else 's'}, {n} cached answer{'' if n == 1 else 's'} "
          "dropped")
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _region(args: argparse.Namespace) -> int:
    doc = _admin(args.data_dir, "POST", "/_stratus/region",
                 body={"app": args.app, "region": args.region, "action": args.action})
    paused = sorted(r for r, f in doc["regions"].items() if f["paused"])
    print(f"{args.app}: replication of {args.region} {'paused' if args.action == 'pause' else 'resumed'}"
          f" (paused now: {', '.join(paused) or 'none'})")
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


def _dead_letters(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from . import table
    path = "/_stratus/dead-letters" + (f"?app={quote(args.app)}" if args.app else "")
    letters = _admin(args.data_dir, "GET", path)["dead_letters"]
    if args.json:
        print(json.dumps(letters, indent=2))
        return 0
    if not letters:
        print("no dead letters" + (f" in app {args.app}" if args.app else ""))
        return 0
    table([("id", "app/trigger", "attempts", "last attempt", "error")] + [
        (str(d["id"]), f"{d['app']}/{d['trigger']}", str(d["attempts"]), _when(d["last_attempt"]),
         d["error"].strip().splitlines()[-1][:100]) for d in letters])
    return 0


def _redrive(args: argparse.Namespace) -> int:
    doc = _admin(args.data_dir, "POST", "/_stratus/redrive",
                 body={"app": args.app, "trigger": args.trigger, "ids": args.ids})
    n = doc["redriven"]
    print(f"sent {n} dead letter{'' if n == 1 else 's'} of {args.app}/{args.trigger} again")
    return 0


def _when(epoch: float) -> str:
    import time
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _age(text: str) -> float:
    """``30s``, ``10m``, ``2h``, ``1d`` (or plain seconds) in seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise StratusError(f"--since {text!r}: give an age such as 30s, 10m, 2h or 1d") from None
    if not 0 <= seconds < 1e10:  # nan and inf too
        raise StratusError(f"--since {text!r}: an age is not negative")
    return seconds


def _logs(args: argparse.Namespace) -> int:
    import time
    from urllib.parse import urlencode
    since = time.time() - _age(args.since)
    shown: dict[str, float] = {}  # request id -> start, of the calls shown at or after ``since``
    while True:
        query = {k: v for k, v in (("app", args.app), ("trigger", args.handler), ("since", repr(since))) if v}
        for call in _admin(args.data_dir, "GET", "/_stratus/logs?" + urlencode(query))["invocations"]:
            if call["request_id"] in shown:
                continue
            shown[call["request_id"]] = call["started"]
            if args.json:
                print(json.dumps(call), flush=True)
                continue
            print(f"{_when(call['started'])}  {call['request_id']}  {call['trigger']}  "
                  f"{call['duration_ms']:.1f} ms  {call['outcome'].upper()}", flush=True)
            for text in (call["output"], call["error"]):
                for line in text.rstrip().splitlines():
                    print(f"    {line}", flush=True)
        if not args.follow:
            return 0
        if shown:  # the next look asks from the newest call shown on, and forgets the older ones
            since = max(shown.values())
            shown = {k: v for k, v in shown.items() if v >= since}
        time.sleep(1.0)


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
