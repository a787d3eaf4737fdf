"""The console chat's terminal: bad bytes in, escape sequences in and out, line editing, logs
that do not cut an answer, media files that never overwrite each other."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pty
import signal
import termios
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bots.app import App
from bots.console.adapter import PROMPT, ConsoleChat
from bots.console.term import clean_text
from core.platform.outbox import Destination
from core.platform.types import ImageReply, Notice
from tests.conftest import write_config
from tests.fake_relay import FakeRelay, Stream
from tests.test_cli import RELAYBOT, _env

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
DEST = Destination("console", "ada", "ada", "en")


class FakeTerminal(io.StringIO):
    """One screen for stdout and stderr, as a terminal is; ``until`` waits for what it shows
    (every write happens on the event loop's thread in these tests)."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._changed.set()
        return super().write(text)

    async def until(self, condition: Callable[[str], bool]) -> None:
        while not condition(self.getvalue()):
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), 10)


class FileOutput(FakeTerminal):
    def isatty(self) -> bool:
        return False


class Keyboard:
    """The read side of a pipe as the console's stdin; ``type`` writes lines into it."""

    def __init__(self) -> None:
        read_fd, self._write_fd = os.pipe()
        self.stdin = open(read_fd, encoding="utf-8")  # noqa: SIM115 (closed in close())

    def type(self, data: bytes) -> None:
        os.write(self._write_fd, data)

    def eof(self) -> None:
        os.close(self._write_fd)

    def close(self) -> None:
        self.stdin.close()


@pytest.fixture
async def keyboard() -> AsyncIterator[Keyboard]:
    board = Keyboard()
    yield board
    board.close()


def _last_question(relay: FakeRelay) -> str:
    return str(relay.requests[-1].json["messages"][-1]["content"])


# --- input -----------------------------------------------------------------------------------


async def test_piped_input_that_is_not_utf8_is_read_with_replacement(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    path = write_config(tmp_path, fake_relay.url)
    proc = await asyncio.create_subprocess_exec(
        *RELAYBOT, "chat", "-c", str(path), "--user", "ada",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )  # fmt: skip
    script = b"\xff\xfehello\n/help \xff\nbye \xc3\n"
    out, err = await asyncio.wait_for(proc.communicate(script), 60)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert text.splitlines()[0] == "echo: \ufffd\ufffdhello"
    assert "Unknown command /\ufffd." in text
    assert "echo: bye \ufffd" in text
    assert "Traceback" not in text + err.decode() and err == b""


async def test_a_strict_text_stream_with_bad_bytes_is_read_with_replacement(
    app: App, fake_relay: FakeRelay
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"\xff\xfehello\nnext\n"), encoding="utf-8")
    out = io.StringIO()
    assert await ConsoleChat(app.engine, stdin, out, user="ada", interactive=False).run() == 0
    assert out.getvalue() == "echo: \ufffd\ufffdhello\necho: next\n"


async def test_escape_sequences_typed_are_not_stored_as_text(
    app: App, fake_relay: FakeRelay
) -> None:
    # No readline here (a pipe): arrow keys and other keys arrive as escape sequences.
    stdin = io.StringIO("hi\x1b[A\x1b[D there\x07\x1bOP\x1b[200~!\x1b[201~\n\x1b[B\n")
    out = io.StringIO()
    assert await ConsoleChat(app.engine, stdin, out, user="ada", interactive=False).run() == 0
    assert _last_question(fake_relay) == "hi there!"
    assert len(fake_relay.requests) == 1  # the line of only an arrow key was nothing to send


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;title\x07x\x1b]8;;http://e.x\x1b\\link\x1b]8;;\x1b\\", "xlink"),
        ("a\rb\x08c\x00d\x7fe\x9b2Jf", "abcdef"),
        ("tab\tand\r\nnewline", "tab\tand\nnewline"),
        ("\x1bPq#0;2;0;0;0\x1b\\ok", "ok"),
        ("\x1bc\x1b(B\x1b7ok\x1b", "ok"),
        ("bad \udcff byte", "bad \ufffd byte"),
        ("中文 ✓ — fine", "中文 ✓ — fine"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


# --- output ----------------------------------------------------------------------------------


async def test_escape_sequences_from_the_model_are_not_printed(
    app: App, fake_relay: FakeRelay, keyboard: Keyboard
) -> None:
    screen = FakeTerminal()
    chat = ConsoleChat(app.engine, keyboard.stdin, screen, user="ada", interactive=True)
    app.traits.register("console", chat.traits)  # as relaybot chat does
    fake_relay.enqueue(Stream(chunks=["\x1b[2J\x1b[31mred\x1b", "[0m \x1b]0;pwned\x07ok\r!"]))
    fake_relay.enqueue(Stream(chunks=["\x1b[8mhidden\x1b[0m"]))
    keyboard.type(b"one\n")
    task = asyncio.create_task(chat.run())
    await screen.until(lambda s: s.count(PROMPT) == 2)
    keyboard.type(b"two\n")
    await screen.until(lambda s: s.count(PROMPT) == 3)
    keyboard.eof()
    assert await asyncio.wait_for(task, 10) == 0
    assert screen.getvalue() == f"{PROMPT}red[0m ok!\n{PROMPT}hidden\n{PROMPT}\n"
    # Piped, the whole answer is printed at once: cleaned the same way.
    fake_relay.enqueue(Stream(chunks=["\x1b]52;c;ZXZpbA==\x07copied?\x1b[1A"]))
    out = io.StringIO()
    await ConsoleChat(app.engine, io.StringIO("x\n"), out, user="bob", interactive=False).run()
    assert out.getvalue() == "copied?\n"


async def test_a_log_record_during_a_streamed_answer_gets_its_own_line(
    app: App, fake_relay: FakeRelay, keyboard: Keyboard
) -> None:
    screen = FakeTerminal()
    handler = logging.StreamHandler(screen)  # -v: logs on stderr, the same terminal
    handler.setLevel(logging.WARNING)  # the test's own records, whatever the root level
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    log = logging.getLogger("relaybot.test")
    try:
        chat = ConsoleChat(app.engine, keyboard.stdin, screen, user="ada", interactive=True)
        app.traits.register("console", chat.traits)  # as relaybot chat does
        release = asyncio.Event()
        fake_relay.enqueue(Stream(chunks=["Streaming ", "works"], hold=release))
        task = asyncio.create_task(chat.run())
        keyboard.type(b"hi\n")
        await screen.until(lambda s: "Streaming " in s)
        log.warning("in the middle")
        release.set()
        await screen.until(lambda s: s.count(PROMPT) == 2)
        log.warning("at the prompt")  # the prompt is drawn again after the record
        await chat.send(DEST, [Notice("job done")])  # so it is after a job's message
        keyboard.eof()
        assert await asyncio.wait_for(task, 10) == 0
    finally:
        root.removeHandler(handler)
    assert screen.getvalue() == (
        f"{PROMPT}Streaming \nWARNING in the middle\nworks\n"
        f"{PROMPT}\r\x1b[KWARNING at the prompt\n{PROMPT}\r\x1b[Kjob done\n{PROMPT}\n"
    )
    assert handler.stream is screen  # the handler's own stream is back after the session


async def test_an_answer_written_to_a_file_is_not_cut_by_logs_on_the_terminal(
    app: App, fake_relay: FakeRelay, keyboard: Keyboard
) -> None:
    logs = FakeTerminal()  # stderr on the terminal, stdout into a file: nothing to share
    handler = logging.StreamHandler(logs)
    handler.setLevel(logging.WARNING)  # the test's own records, whatever the root level
    logging.getLogger().addHandler(handler)
    try:
        out = FileOutput()
        chat = ConsoleChat(app.engine, keyboard.stdin, out, user="ada", interactive=True)
        app.traits.register("console", chat.traits)  # as relaybot chat does
        release = asyncio.Event()
        fake_relay.enqueue(Stream(chunks=["Streaming ", "works"], hold=release))
        task = asyncio.create_task(chat.run())
        keyboard.type(b"hi\n")
        await out.until(lambda s: "Streaming " in s)
        logging.getLogger("relaybot.test").warning("in the middle")
        release.set()
        keyboard.eof()
        assert await asyncio.wait_for(task, 10) == 0
    finally:
        logging.getLogger().removeHandler(handler)
    assert out.getvalue() == f"{PROMPT}Streaming works\n{PROMPT}\n"
    assert logs.getvalue() == "in the middle\n"


# --- media -----------------------------------------------------------------------------------


async def test_saved_media_never_overwrite_each_other_across_runs(
    app: App, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    first, second = io.StringIO(), io.StringIO()
    for out, data in ((first, b"first"), (second, b"second")):
        chat = ConsoleChat(
            app.engine, io.StringIO(), out, user="ada", interactive=False, media_dir=media,
            clock=lambda: 1_800_000_000.0,  # two runs in the same second
        )  # fmt: skip
        await chat.send(DEST, [ImageReply(PNG + data, "image/png", "a fox")])
    files = sorted(media.iterdir())
    assert len(files) == 2 and {f.read_bytes() for f in files} == {PNG + b"first", PNG + b"second"}
    for out, path in zip((first, second), files, strict=True):
        assert out.getvalue() == f"[image saved: {path}] a fox\n"
        assert path.name.startswith("console-") and path.suffix == ".png"


async def test_media_that_cannot_be_saved_get_a_line_not_a_crash(
    app: App, tmp_path: Path
) -> None:
    (tmp_path / "media").write_text("a file where the folder should be")
    out = io.StringIO()
    chat = ConsoleChat(
        app.engine, io.StringIO(), out, user="ada", interactive=False, media_dir=tmp_path / "media"
    )
    await chat.send(DEST, [ImageReply(PNG, "image/png")])
    assert out.getvalue().startswith("[image not saved: ")


# --- a real terminal -------------------------------------------------------------------------


async def _read_until(master: int, screen: bytearray, needle: bytes, count: int = 1) -> None:
    while screen.count(needle) < count:
        chunk = await asyncio.wait_for(asyncio.to_thread(os.read, master, 4096), 30)
        assert chunk, bytes(screen)
        screen += chunk


async def test_interactive_chat_edits_lines_and_recalls_them(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    path = write_config(tmp_path, fake_relay.url)
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        *RELAYBOT, "chat", "-c", str(path), stdin=slave, stdout=slave, stderr=slave,
        env=_env(TERM="xterm"),
    )  # fmt: skip
    os.close(slave)
    screen = bytearray()
    try:
        await _read_until(master, screen, b"you> ")
        os.write(master, b"wrld\x1b[D\x1b[D\x1b[Do\r")  # ← ← ← then "o": the line is edited
        await _read_until(master, screen, b"echo: world")
        assert _last_question(fake_relay) == "world"
        await _read_until(master, screen, b"you> ", 2)
        os.write(master, b"\x1b[A\r")  # ↑ recalls the last line
        await _read_until(master, screen, b"echo: world", 2)
        assert len(fake_relay.requests) == 2 and _last_question(fake_relay) == "world"
        await _read_until(master, screen, b"you> ", 3)
        proc.send_signal(signal.SIGINT)  # Ctrl-C at the prompt, readline holding the terminal
        assert await asyncio.wait_for(proc.wait(), 30) == 130
        # The shell gets back a terminal that echoes and reads whole lines.
        lflag = termios.tcgetattr(master)[3]
        assert lflag & termios.ECHO and lflag & termios.ICANON
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    assert b"Traceback" not in screen
