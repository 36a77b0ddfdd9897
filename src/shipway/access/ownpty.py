"""A4: root's `shipway ssh` gives the sandbox a terminal of its own, never root's.

Whatever holds a terminal as its controlling tty may push input into it
(TIOCSTI, still allowed where `dev.tty.legacy_tiocsti` is 1): handed root's
own terminal, the app's code could type a command that root's shell runs
once the session ends. So, when stdin is a terminal, the session runs on a
fresh pty (`pty.fork`); this process copies bytes between the two, with
root's terminal raw and the window size passed on (SIGWINCH). What the app
types stays in the fresh pty, which is thrown away.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import termios
import tty
from collections.abc import Callable


def _copy_size(master: int) -> None:
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass


def _relay(master: int) -> None:
    sources = [0, master]
    while True:
        ready, _, _ = select.select(sources, [], [])
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the session's side is closed
                return
            if not data:
                return
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 65536)
            if data:
                os.write(master, data)
            else:  # root's terminal hung up: the session sees its own end when it exits
                sources.remove(0)


def run(session: Callable[[], int]) -> int:
    """`session()`'s exit status, run on a fresh pty when stdin is a terminal."""
    if not os.isatty(0):
        return session()
    pid, master = pty.fork()
    if pid == 0:  # the child: the fresh pty is its stdin, stdout, stderr and terminal
        code = 1
        try:
            code = session()
        finally:
            os._exit(code)
    _copy_size(master)
    previous = signal.signal(signal.SIGWINCH, lambda *_: _copy_size(master))
    saved = termios.tcgetattr(0)
    try:
        tty.setraw(0)
        _relay(master)
    finally:
        termios.tcsetattr(0, termios.TCSAFLUSH, saved)
        signal.signal(signal.SIGWINCH, previous)
        os.close(master)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
