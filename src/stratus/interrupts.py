"""Ctrl-C while a command starts: noted, and acted on where stopping is safe.

An interrupt raised as ``KeyboardInterrupt`` can land anywhere: inside an import (a C extension
half loaded, which may crash the interpreter later), inside a dataclass being built, or between
two writes. While a command starts, the first Ctrl-C is only noted; the command checks at safe
points (``stop_if_noted``) and exits quietly with 130. A second Ctrl-C exits at once (a start-up
stuck in an app's own code can still be left). Once a command runs, Ctrl-C is a
``KeyboardInterrupt`` again (or the server's own shutdown), and still exits 130.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

INTERRUPTED = 130  # the exit status of a command stopped by Ctrl-C (128 + SIGINT)
_noted: int | None = None  # the first stopping signal noted: SIGINT (Ctrl-C) or SIGTERM


def _note(signum: int, frame: FrameType | None) -> None:
    global _noted
    if _noted == signal.SIGINT and signum == signal.SIGINT:
        os._exit(INTERRUPTED)  # the second Ctrl-C: nothing more is awaited
    if _noted is None:
        _noted = signum


def _ignored(sig: int = signal.SIGINT) -> bool:
    """Whether ``sig`` was ignored when the process started (Ctrl-C, in a script's background job: `stratus up &`);
    such a process goes on ignoring it, as shells mean it to."""
    return signal.getsignal(sig) is signal.SIG_IGN


def defer() -> None:
    """From now on, a Ctrl-C or SIGTERM is noted instead of acted on at once."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if not _ignored(sig):
            signal.signal(sig, _note)


def noted() -> int | None:
    """The stopping signal noted so far (SIGINT or SIGTERM), if any."""
    return _noted


def status(signum: int) -> int:
    """The exit status a command stopped by ``signum`` gives: 130 for Ctrl-C, 0 for SIGTERM (a clean stop)."""
    return INTERRUPTED if signum == signal.SIGINT else 0


def stop_if_noted() -> None:
    """Exit quietly (``SystemExit``: clean-up in ``finally`` blocks runs) if Ctrl-C (130) or SIGTERM (0) came."""
    if _noted is not None:
        raise SystemExit(status(_noted))


def restore() -> None:
    """Ctrl-C raises ``KeyboardInterrupt`` again and SIGTERM ends the process, at once if they came meanwhile."""
    if not _ignored():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if not _ignored(signal.SIGTERM):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    stop_if_noted()


def ignore() -> None:
    """A Ctrl-C changes nothing from now on (the command has finished; the process is exiting)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM held off for the block: what must not be cut in two (a child started but not yet
    tracked, a child being stopped and its folder removed) finishes, then the signal does what it would have done.
    Only where a Python handler would act; a signal left to the system (SIG_DFL, SIG_IGN) is left alone."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    held: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, handler in previous.items():
        if callable(handler):
            signal.signal(sig, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if callable(handler):
                signal.signal(sig, handler)
        for signum in dict.fromkeys(held):  # each signal once: a second Ctrl-C while held is the same request
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
