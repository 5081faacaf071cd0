"""Ctrl-C and SIGTERM held off where a cut would leave something behind (``interrupts.shielded``)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from stratus import interrupts


def test_a_ctrl_c_in_a_shielded_block_is_raised_after_it() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.shielded():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # pressed twice: one request
            done.append("the block ran to its end")
    assert done == ["the block ran to its end"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # and Ctrl-C is as it was


def test_a_handled_sigterm_is_held_too_and_a_default_one_is_left_alone() -> None:
    seen: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with interrupts.shielded():
            os.kill(os.getpid(), signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with interrupts.shielded():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)


def test_nothing_is_held_outside_the_main_thread() -> None:
    seen = []

    def worker() -> None:
        with interrupts.shielded():
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [signal.default_int_handler]
