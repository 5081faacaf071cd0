"""A ``stratus up`` in a child process, as the demo, the tests and the benchmarks drive it.

``RunningSystem.start`` launches ``python -m stratus up`` on a free port and
waits for ``endpoints.json`` (which the server writes only once it serves), so
what they exercise is exactly what a user runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .. import interrupts
from ..errors import StratusError
from .services.ses.mailers import latest_code


def default_signals() -> None:
    """In a child about to run a command: Ctrl-C and SIGTERM back to their defaults, as a terminal gives them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def default_sigterm() -> None:
    """In a child about to run a system its parent stops with SIGTERM: that signal works, whatever the parent
    ignores (Ctrl-C is left as the parent has it)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@dataclass
class RunningSystem:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    endpoints: dict[str, Any]
    ready_seconds: float

    @classmethod
    def start(cls, data_dir: Path, apps: list[Path] | None = None, *, port: int = 0, extra: list[str] | None = None,
              timeout: float = 60.0, log: Path | None = None, terminal: bool = False,
              started: list[RunningSystem] | None = None) -> RunningSystem:
        """``stratus up`` in a child, once it serves. The child keeps the signals its caller ignores (a demo run
        as a script's background job: Ctrl-C in the terminal stops neither), unless ``terminal`` gives it Ctrl-C
        and SIGTERM back as a terminal would (tests that play the user). ``started`` gets the system as soon as
        its process exists, so a caller interrupted meanwhile can still stop it."""
        data_dir.mkdir(parents=True, exist_ok=True)
        endpoints_file = data_dir / "endpoints.json"  # ready once it names the process started here
        cmd = [sys.executable, "-m", "stratus", "up", *(str(a) for a in apps or []), "--data-dir", str(data_dir),
               "--port", str(port), *(extra or [])]
        log_path = log or data_dir / "up.log"  # the server's output, which may name secrets: the owner's only
        out = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
        os.chmod(log_path, 0o600)
        t0 = time.perf_counter()
        proc = None
        try:
            with interrupts.shielded(), out:  # a signal now cannot leave a child nobody tracks
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        preexec_fn=default_signals if terminal else default_sigterm)
                if started is not None:
                    started.append(cls(proc, data_dir, {}, 0.0))
            while True:
                try:
                    doc = orjson.loads(endpoints_file.read_bytes())
                except (OSError, ValueError):  # not there yet (or another system's, being replaced)
                    doc = {}
                if doc.get("pid") == proc.pid:
                    return cls(proc, data_dir, doc, time.perf_counter() - t0)
                if proc.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise StratusError(f"stratus up exited with {proc.returncode}:\n{tail}")
                if time.perf_counter() - t0 > timeout:
                    raise StratusError(f"stratus up was not ready within {timeout:.0f}s")
                time.sleep(0.02)
        except BaseException:  # not ready, or the caller interrupted (Ctrl-C): no system is left behind
            if proc is not None:
                cls(proc, data_dir, {}, 0.0).stop()
            raise

    @property
    def port(self) -> int:
        return int(self.endpoints["aws_endpoint"].rsplit(":", 1)[1])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Stop the system (``sig``, then SIGKILL after ``timeout`` seconds); a Ctrl-C meanwhile waits for it."""
        with interrupts.shielded():
            if self.proc.poll() is None:
                os.kill(self.proc.pid, sig)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        return self.proc.returncode

    def latest_code(self, email: str) -> str:
        """The newest confirmation code mailed to ``email`` (from the outbox)."""
        return latest_code(self.data_dir / "outbox", email)
