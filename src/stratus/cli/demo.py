"""``stratus demo``: each app toured as its clients use it, on a fresh system or a running one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import StratusError


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="walk each app's flows as a client would, on a fresh system or a running one",
                          description="Start a fresh system in a temporary data dir with every app that has a tour "
                                      "(tour.py beside its app.py), or, with --endpoints, take a running one, local "
                                      "or on AWS; walk each app's flows with real clients, print each step with its "
                                      "latency, and exit non-zero if any step fails.")
    demo.add_argument("--apps-dir", type=Path, help="folder holding the apps and their tours (default: ./apps)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary data dir and print its path")
    demo.add_argument("--endpoints", type=Path, metavar="FILE",
                      help="tour a running system instead: a local endpoints.json, or the file stratus deploy wrote")
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    if args.endpoints and args.keep:
        raise StratusError("--endpoints tours a running system: --keep is for a fresh one")
    return run_demo(apps_dir=args.apps_dir, keep=args.keep, endpoints=args.endpoints)
