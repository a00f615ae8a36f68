"""A SIGHUP whose first exit Python drops still ends `novacast chat` (novacast.console._Leave).

Python runs a signal handler wherever the main thread is, also inside a finalizer, where the
exception it raises is printed and dropped; the chat then sat reading stdin for ever (seen
with logging's after-fork hook while the worker child started, under load)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import gc, os, signal, sys
    from novacast.console import _Leave

    leave = _Leave()
    leave.install()

    class SignalsInItsFinalizer:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGHUP)
            sum(range(1000))  # the handler runs here; its SystemExit is dropped

    SignalsInItsFinalizer()
    gc.collect()
    print("went on", flush=True)
    for line in leave.lines(sys.stdin):
        print("read", line, flush=True)
    print("stdin ended", flush=True)
    """
)


def test_a_dropped_exit_is_raised_again_while_waiting_for_a_line() -> None:
    chat = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = chat.wait(timeout=20)
    finally:
        chat.kill()
        out, err = chat.communicate()
    assert "Exception ignored" in err  # the first exit was dropped, as Python does
    assert "went on" in out
    assert "read" not in out
    assert "stdin ended" not in out
    assert code == 128 + 1  # SIGHUP's exit, raised again while it waited for a line
