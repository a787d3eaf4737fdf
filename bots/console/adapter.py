"""Console adapter: chat with the engine in a terminal, or script it through a pipe."""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bots.console.term import (
    Terminal,
    clean_text,
    decode_with_replacement,
    eof_typed_ahead,
    load_readline,
    logs_through,
    read_line_soon,
    terminal_restored,
)
from core.engine.engine import Engine
from core.platform.outbox import Destination
from core.platform.traits import PlatformTraits
from core.platform.types import (
    AudioReply,
    ErrorReply,
    FinalText,
    ImageReply,
    IncomingMessage,
    Notice,
    ReplyEvent,
    TextDelta,
    VideoReply,
)

PLATFORM = "console"
PROMPT = "you> "
# A terminal prints lines: no buttons (their typed forms are shown instead), no edits (an
# answer is printed once, complete), plain text, no voice messages (speech is saved as a file).
CONSOLE_TRAITS = PlatformTraits(
    buttons=False,
    edits=False,
    max_text=100_000,
    max_caption=4000,
    markdown="plain",
    voice_format=None,
    max_upload_bytes=100 * 1_000_000,
)


class ConsoleChat:
    """Reads one message per line from ``stdin`` and writes the answers to ``stdout``.

    Interactive (a terminal): answers stream as they arrive (the console then declares
    edits), and the line can be edited (readline) when ``stdin`` is the process's own
    terminal. Piped: no edits, so each answer is printed once, complete, and EOF ends the
    session. Neither has buttons: a reply offers its typed forms in one line. Input that is
    not valid UTF-8 is read with U+FFFD in place of the bad bytes; escape sequences and
    control characters are taken out of what is typed and of what is printed.
    """

    def __init__(
        self,
        engine: Engine,
        stdin: TextIO,
        stdout: TextIO,
        *,
        user: str | None = None,
        interactive: bool | None = None,
        edits: bool | None = None,
        media_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._media_dir = media_dir or Path("data") / "media"
        self._clock = clock
        self._saved = 0
        self._sent = 0  # ids of the messages the outbox sent, unique in the session
        decode_with_replacement(stdin)
        decode_with_replacement(stdout)
        self._in = stdin
        self._out = stdout
        self._user = user or _login_name()
        self._interactive = stdin.isatty() if interactive is None else interactive
        # A terminal shows an answer as it streams; a pipe gets each answer once, whole.
        self.traits = replace(CONSOLE_TRAITS, edits=self._interactive if edits is None else edits)
        self._readline = load_readline(stdin, stdout) if self._interactive else None
        buffer = self._readline.get_line_buffer if self._readline else None
        self._term = Terminal(stdout, PROMPT, buffer)

    @property
    def user(self) -> str:
        return self._user

    @property
    def interactive(self) -> bool:
        return self._interactive

    async def run(self) -> int:
        """Chat until EOF (or Ctrl-D); returns the exit status."""
        if not self._interactive:
            return await self._chat()
        with terminal_restored(self._in), logs_through(self._term, self._out):
            return await self._chat()

    async def _chat(self) -> int:
        count = 0
        while True:
            line = await self._read_line()
            if not line:
                if self._interactive:
                    self._term.end_line()
                return 0
            text = clean_text(line.rstrip("\r\n"))
            if not text.strip():
                continue
            count += 1
            message = IncomingMessage(
                platform=PLATFORM,
                chat_id=self._user,
                chat_type="private",
                user_id=self._user,
                display_name=self._user,
                text=text,
                message_id=str(count),
            )
            await self._answer(message)

    async def _read_line(self) -> str:
        """The next line with its newline, "" at EOF."""
        if not self._interactive:
            return await read_line_soon(self._in.readline)
        if self._readline is not None:  # input() edits the line and draws the prompt
            self._term.prompting(shown_by_us=False)
            line = await read_line_soon(self._input)
        else:
            self._term.prompting(shown_by_us=True)
            line = await read_line_soon(self._in.readline)
        self._term.line_entered(line)
        return line

    def _input(self) -> str:
        """One edited line from the terminal (readline), "" at EOF."""
        if eof_typed_ahead(self._in):
            return ""
        return input(PROMPT) + "\n"

    async def _answer(self, message: IncomingMessage) -> None:
        streamed = False
        async for event in self._engine.handle(message):
            streamed = self._render(event, streamed)
        self._term.end_line()  # a stream that ended without its FinalText still ends the line

    def _render(self, event: ReplyEvent, streamed: bool) -> bool:
        """Write one event; returns whether a streamed line is still open."""
        if isinstance(event, TextDelta):
            if self._interactive:
                self._term.write(clean_text(event.text))
                return True
            return False
        if isinstance(event, FinalText):
            if streamed:
                self._term.end_line()
            else:
                self._lines(event.text)
            return False
        if isinstance(event, Notice | ErrorReply):
            self._lines(event.text)
            return False
        if isinstance(event, ImageReply | AudioReply | VideoReply):
            self._lines(self._save(event))
            return False
        return streamed

    def _lines(self, text: str) -> None:
        """Whole lines of their own, whenever they come (answers, job results, progress)."""
        self._term.show(clean_text(text) + "\n")

    def _save(self, event: ImageReply | AudioReply | VideoReply) -> str:
        """Media go to new files under the media folder (never over an older one, from this
        session or another); the line says where."""
        if isinstance(event, VideoReply) and event.data is None:
            return f"[video] {event.url}"
        kind = event.mime.split("/")[0]
        ext = event.mime.split("/")[-1].replace("jpeg", "jpg").replace("mpeg", "mp3")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._clock()))
        try:
            self._media_dir.mkdir(parents=True, exist_ok=True)
            while True:
                self._saved += 1
                path = self._media_dir / f"{PLATFORM}-{stamp}-{self._saved}.{ext}"
                try:
                    with path.open("xb") as file:  # exclusive: an existing file is kept
                        file.write(event.data or b"")
                    break
                except FileExistsError:
                    continue
        except OSError as exc:
            return f"[{kind} not saved: {exc.strerror or exc}]"
        caption = getattr(event, "caption", "") or getattr(event, "title", "")
        return f"[{kind} saved: {path}] {caption}".rstrip()

    # --- the outbox sink: job progress and results ------------------------------------------

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        ids: list[str] = []
        for event in events:
            self._render(event, False)
            self._sent += 1
            ids.append(f"out-{self._sent}")
        return ids

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        if final or self._interactive:
            self._lines(text)
        return True


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "console"
