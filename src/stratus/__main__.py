"""``stratus`` and ``python -m stratus``: the command, with Ctrl-C noted from the very start."""

from . import interrupts

interrupts.defer()  # the first thing the command does: a Ctrl-C from here on is noted, never raised mid-import

from .cli import main  # noqa: E402


def run() -> None:
    """The ``stratus`` command's entry: the command, then an exit a Ctrl-C cannot turn into a traceback."""
    try:
        status = main()
    finally:
        interrupts.ignore()  # the command is over: a Ctrl-C while the process exits changes nothing
    raise SystemExit(status)


if __name__ == "__main__":
    run()
