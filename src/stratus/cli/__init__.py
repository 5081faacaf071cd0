"""The ``stratus`` command: thin commands over the providers, one module per group.

    local   up, stats, flush-cache, mail      a system on this machine
    aws     synth, deploy, destroy            the same apps on AWS
    demo    demo                              each app toured as its clients use it

Each module adds its subcommands to the parser and sets the function that runs them.
Known failures (``StratusError``) print one line and exit 2; a traceback only with
``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import StratusError
from . import aws, demo, local


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stratus",
        description="Run classic AWS serverless architectures whole on one machine, and ship the same "
                    "app code to AWS.",
        epilog="Working today: MyTodoList (apps/todo), locally and on AWS. See README.md.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local.register(sub)
    demo.register(sub)
    aws.register(sub)
    local.register_mail(sub)
    return p


def table(rows: Sequence[tuple[str, ...]]) -> None:
    """Print rows as left-aligned columns."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        return 130
    except StratusError as exc:
        if args.debug:
            raise
        print(f"stratus: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
