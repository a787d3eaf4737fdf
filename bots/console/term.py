"""The terminal side of the console chat: clean text in and out, one writer that knows where
the cursor is, log records that never land in the middle of an answer, and line editing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import IO, Any, TextIO

# Escape sequences a terminal acts on: CSI (cursor keys, colours, clearing), OSC (window
# title, hyperlinks, clipboard), DCS/SOS/PM/APC strings, SS3 (F1-F4, keypad) and the short
# two-character escapes; C1's 8-bit CSI too.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1bO[ -~]?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
# What is left that a terminal would act on: C0 controls but tab and newline, DEL, C1.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates: undecodable input bytes (surrogateescape) or JSON "\ud800"; they cannot be
# encoded, so printing or sending them would fail.
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without anything a terminal would act on: escape sequences and control
    characters go (tab and newline stay, CRLF becomes LF), undecodable bytes become U+FFFD."""
    text = _SURROGATES.sub("\ufffd", text).replace("\r\n", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def decode_with_replacement(stream: IO[Any]) -> None:
    """Make a text stream decode (and encode) bytes that are not valid in its encoding as
    U+FFFD / "?" instead of raising, so one bad line never ends or breaks the session."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="replace")


def load_readline(stdin: IO[Any], stdout: IO[Any]) -> ModuleType | None:
    """The standard ``readline`` module when ``input()`` can use it (the process's own
    terminal on both sides): line editing, and ↑/↓ through this session's lines. Imported
    only then, as the import can write to the terminal."""
    if stdin is not sys.stdin or stdout is not sys.stdout:
        return None
    if not (stdin.isatty() and stdout.isatty()):
        return None
    try:
        import readline
    except ImportError:  # Windows, or a Python built without it
        return None
    return readline


class Terminal:
    """Everything the console writes goes through here, under one lock. It remembers whether
    the cursor is at the start of a line, and whether the prompt is waiting for a line, so
    messages that arrive at any time (job results, log records) start on a line of their
    own and the prompt is shown again after them."""

    def __init__(self, out: TextIO, prompt: str, line_buffer: Callable[[], str] | None = None):
        self._out = out
        self._prompt = prompt
        self._line_buffer = line_buffer  # what the user has typed so far (readline)
        self._lock = threading.RLock()
        self._at_line_start = True
        self._prompting = False

    def write(self, text: str) -> None:
        """Write ``text`` (already cleaned) where the cursor is: a streamed answer."""
        if not text:
            return
        with self._lock:
            self._out.write(text)
            self._out.flush()
            self._at_line_start = text.endswith("\n")

    def end_line(self) -> None:
        """Move to the start of a line if the cursor is not there."""
        with self._lock:
            if not self._at_line_start:
                self.write("\n")

    def show(self, text: str) -> None:
        """Write whole lines that arrived on their own (not as the answer being written)."""
        with self._lock:
            self._leave_prompt()
            self.end_line()
            self.write(text)
            self._back_to_prompt()

    def prompting(self, shown_by_us: bool) -> None:
        """The prompt is on screen and a line is being read."""
        with self._lock:
            if shown_by_us:
                self.write(self._prompt)
            self._prompting = True
            self._at_line_start = False

    def line_entered(self, line: str) -> None:
        """A line was read: Enter was pressed (and echoed), or "" at EOF (Ctrl-D echoes
        nothing: the cursor is still after the prompt)."""
        with self._lock:
            self._prompting = False
            self._at_line_start = bool(line)

    @contextlib.contextmanager
    def log_lines(self) -> Iterator[None]:
        """Hold the terminal while a log record is written elsewhere (stderr, same screen)."""
        with self._lock:
            self._leave_prompt()
            self.end_line()
            try:
                yield
            finally:
                self._back_to_prompt()

    def _leave_prompt(self) -> None:
        if self._prompting:  # clear the prompt line; it is drawn again afterwards
            self._out.write("\r\x1b[K")
            self._at_line_start = True

    def _back_to_prompt(self) -> None:
        if self._prompting:
            typed = self._line_buffer() if self._line_buffer else ""
            self.write(self._prompt + typed)


class _LogStream:
    """A log handler's stream that takes the terminal before each record."""

    def __init__(self, stream: TextIO, terminal: Terminal) -> None:
        self._stream = stream
        self._terminal = terminal

    def write(self, text: str) -> int:
        with self._terminal.log_lines():
            written = self._stream.write(text)
            self._stream.flush()
        return written

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()


@contextlib.contextmanager
def logs_through(terminal: Terminal, screen: IO[Any]) -> Iterator[None]:
    """While the console runs on a terminal (``screen``), root log handlers that write to a
    terminal too (``-v`` puts them on stderr) go through ``terminal``: a record never splits
    a line of the answer, and the prompt is drawn again after it."""
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for handler in logging.getLogger().handlers if _is_tty(screen) else ():
        if isinstance(handler, logging.StreamHandler) and _is_tty(handler.stream):
            old = handler.setStream(_LogStream(handler.stream, terminal))
            swapped.append((handler, old))
    try:
        yield
    finally:
        for handler, old in swapped:
            handler.setStream(old)


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


@contextlib.contextmanager
def terminal_restored(stream: IO[Any]) -> Iterator[None]:
    """Put the terminal's modes back on the way out, even after Ctrl-C while readline had it
    in raw mode: the shell must get back a terminal that echoes."""
    try:
        import termios
    except ImportError:  # not a POSIX system
        yield
        return
    try:
        fd = stream.fileno()
        saved = termios.tcgetattr(fd)
    except (AttributeError, ValueError, OSError, termios.error):  # not a terminal
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def eof_typed_ahead(stream: IO[Any]) -> bool:
    """Whether Ctrl-D was pressed while an answer was printing. It waits in the terminal's
    line buffer as an empty read, which readline would lose when it takes the terminal (the
    session would not end); it is read here instead."""
    try:
        import fcntl
        import select
        import termios

        fd = stream.fileno()
        if not select.select([fd], [], [], 0)[0]:
            return False
        pending = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        return bool(pending == 0 and os.read(fd, 1) == b"")
    except (ImportError, AttributeError, ValueError, OSError):
        return False


def read_line_soon(read: Callable[[], str]) -> asyncio.Future[str]:
    """One line read by ``read`` in a daemon thread ("" at EOF): a blocked read never keeps
    the process from exiting on Ctrl-C, as a worker thread of the default executor would."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(line: str) -> None:
        if not future.done():
            future.set_result(line)

    def reader() -> None:
        try:
            line = read()
        except EOFError:  # Ctrl-D at input()
            line = ""
        except (OSError, ValueError):  # closed under us
            line = ""
        with contextlib.suppress(RuntimeError):  # the loop is gone: the session ended
            loop.call_soon_threadsafe(deliver, line)

    threading.Thread(target=reader, name="console-stdin", daemon=True).start()
    return future
