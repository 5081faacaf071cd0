from . import interrupts

interrupts.defer()  # the first thing `python -m stratus` does: a Ctrl-C from here on is noted, never raised

from .cli import main  # noqa: E402

raise SystemExit(main())
