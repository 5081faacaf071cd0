"""The ``stratus`` command: thin commands over the providers, one module per group.

    local   up, stats, flush-cache, dead-letters, redrive, logs, region, invalidate, mail, endpoints
                                              a system on this machine
    aws     synth, deploy, destroy            the same apps on AWS
    demo    demo                              each app toured as its clients use it

Each module adds its subcommands to the parser and sets the function that runs them.
Known failures (``StratusError``) print one line and exit 2; a traceback only with
``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from .. import __version__, interrupts
from ..errors import StratusError
from . import aws, demo, local

DEFERRED = {"up"}  # commands that start a server: they stop at their own safe points (interrupts.stop_if_noted)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stratus",
        description="Run classic AWS serverless architectures whole on one machine, and ship the same "
                    "app code to AWS.",
        epilog="Working today: MyTodoList (apps/todo), locally and on AWS. See README.md.")
    p.add_argument("--version", action="version", version=f"stratus {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local.register(sub)
    demo.register(sub)
    aws.register(sub)
    local.register_mail(sub)
    for command in sub.choices.values():  # --debug after the command too; given before it, it stands
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks for errors")
    return p


def table(rows: Sequence[tuple[str, ...]]) -> None:
    """Print rows as left-aligned columns."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status. Ctrl-C and SIGTERM are left as they were found (``stratus.__main__.run``, the command
    itself, makes it wait from before anything loads and ignores it once the command is over)."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _main(argv)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command not in DEFERRED:
            interrupts.restore()
        interrupts.stop_if_noted()
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        return interrupts.INTERRUPTED
    except BrokenPipeError:  # the reader went away (`stratus mail | head`): nothing more to say, to anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except StratusError as exc:
        if args.debug:
            raise
        print(f"stratus: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
