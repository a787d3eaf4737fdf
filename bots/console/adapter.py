"""Console adapter: chat with the engine in a terminal, or script it through a pipe."""

from __future__ import annotations

import asyncio
import getpass
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

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

    Each answer is printed once, complete (the console declares no edits); piped, EOF ends
    the session.
    """

    traits = CONSOLE_TRAITS

    def __init__(
        self,
        engine: Engine,
        stdin: TextIO,
        stdout: TextIO,
        *,
        user: str | None = None,
        interactive: bool | None = None,
        media_dir: Path | None = None,
    ) -> None:
        self._engine = engine
        self._media_dir = media_dir or Path("data") / "media"
        self._saved = 0
        self._sent = 0  # ids of the messages the outbox sent, unique in the session
        self._in = stdin
        self._out = stdout
        self._user = user or _login_name()
        self._interactive = stdin.isatty() if interactive is None else interactive

    @property
    def user(self) -> str:
        return self._user

    @property
    def interactive(self) -> bool:
        return self._interactive

    async def run(self) -> int:
        """Chat until EOF (or Ctrl-D); returns the exit status."""
        count = 0
        lines = _read_lines(self._in)
        while True:
            if self._interactive:
                self._write(PROMPT)
            line = await lines.get()
            if not line:
                if self._interactive:
                    self._write("\n")
                return 0
            text = line.rstrip("\r\n")
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

    async def _answer(self, message: IncomingMessage) -> None:
        streamed = False
        async for event in self._engine.handle(message):
            streamed = self._render(event, streamed)
        if streamed:  # a stream that ended without its FinalText still ends the line
            self._write("\n")

    def _render(self, event: ReplyEvent, streamed: bool) -> bool:
        """Write one event; returns whether a streamed line is still open."""
        if isinstance(event, TextDelta):
            if self._interactive:
                self._write(event.text)
                return True
            return False
        if isinstance(event, FinalText):
            if streamed:
                self._write("\n")
            else:
                self._write(event.text + "\n")
            return False
        if isinstance(event, Notice | ErrorReply):
            self._write(("\n" if streamed else "") + event.text + "\n")
            return False
        if isinstance(event, ImageReply | AudioReply | VideoReply):
            self._write(("\n" if streamed else "") + self._save(event) + "\n")
            return False
        return streamed

    def _save(self, event: ImageReply | AudioReply | VideoReply) -> str:
        """Media go to files under the media folder; the line says where."""
        if isinstance(event, VideoReply) and event.data is None:
            return f"[video] {event.url}"
        data = event.data or b""
        ext = event.mime.split("/")[-1].replace("jpeg", "jpg").replace("mpeg", "mp3")
        self._media_dir.mkdir(parents=True, exist_ok=True)
        self._saved += 1
        path = self._media_dir / f"{PLATFORM}-{self._saved}.{ext}"
        path.write_bytes(data)
        caption = getattr(event, "caption", "") or getattr(event, "title", "")
        return f"[{event.mime.split('/')[0]} saved: {path}] {caption}".rstrip()

    # --- the outbox sink: job progress and results ------------------------------------------

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        ids = []
        for event in events:
            self._render(event, False)
            self._sent += 1
            ids.append(f"out-{self._sent}")
        return ids

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        if final or self._interactive:
            self._write(text + "\n")
        return True

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


def _read_lines(stream: TextIO) -> asyncio.Queue[str]:
    """Lines of ``stream`` ("" at EOF) read by a daemon thread: a blocked read never keeps
    the process from exiting on Ctrl-C, as a worker thread of the default executor would."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        while True:
            try:
                line = stream.readline()
            except (OSError, ValueError):  # closed under us
                line = ""
            try:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            except RuntimeError:  # the loop is gone: the session ended
                return
            if not line:
                return

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return queue


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "console"
