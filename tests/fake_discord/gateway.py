"""The gateway: a WebSocket speaking Discord's JSON protocol (v10), with sessions that resume.

discord.py connects to ``<gateway>?v=10&encoding=json&compress=zlib-stream`` (platforms.md 2.2).
With ``compress=zlib-stream`` frames are binary: one deflate context per connection, each
payload ending in a Z_SYNC_FLUSH (00 00 ff ff), as Discord sends them; otherwise text frames."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.fake_discord.payloads import user_json
from tests.fake_discord.state import GUILDS, MESSAGE_CONTENT

if TYPE_CHECKING:
    from tests.fake_discord.models import StoredMessage
    from tests.fake_discord.state import FakeState

# Opcodes (discord-api-docs topics/opcodes-and-status-codes "Gateway Opcodes").
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    9,
    10,
    11,
)
PRIVILEGED = (1 << 1) | (1 << 8) | MESSAGE_CONTENT  # GUILD_MEMBERS, GUILD_PRESENCES, content


@dataclass
class Connection:
    ws: web.WebSocketResponse
    path: str
    compress: bool
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    deflate: Any = None
    authenticated: bool = False
    closed_by_server: bool = False
    queued: int = 0
    received: list[float] = field(default_factory=list)  # when the client sent each payload
    written: int = 0

    def put(self, text: str) -> None:
        self.queued += 1
        self.queue.put_nowait(text)

    @property
    def flushed(self) -> bool:
        return self.written >= self.queued

    async def close(self, code: int, message: bytes) -> None:
        self.closed_by_server = True
        await self.ws.close(code=code, message=message)

    def encode(self, text: str) -> bytes:
        if self.deflate is None:
            self.deflate = zlib.compressobj()
        data: bytes = self.deflate.compress(text.encode()) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        return data


@dataclass
class Session:
    id: str
    intents: int
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)  # every dispatch, for replay
    conn: Connection | None = None


@dataclass(frozen=True)
class Handshake:
    kind: str  # "identify", "resume", "invalid"
    session_id: str | None
    path: str
    seq: int | None = None
    intents: int | None = None  # what IDENTIFY asked for
    shard: tuple[int, int] | None = None  # IDENTIFY's [shard_id, shard_count], if any


class Gateway:
    """Sessions, the dispatch of events, and the switches tests use to break the connection."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.sessions: dict[str, Session] = {}
        self.handshakes: list[Handshake] = []
        self.heartbeats = 0
        self.heartbeat_interval_ms = 41250
        # Privileged intents switched on in the developer portal; asking for others: 4014.
        self.portal_intents = PRIVILEGED
        self.close_on_identify: int | None = None  # e.g. 4004 even with a good token
        self.ack_heartbeats = True  # False: a zombie connection (discord.py reconnects)
        # Clients may send 120 payloads per 60 s per connection, else close 4008.
        # discord.py keeps to 110 per 60 s itself.
        self.send_limit, self.send_window_s = 120, 60.0
        self.open = asyncio.Event()  # cleared: new connections wait before HELLO
        self.open.set()
        self.connections: list[Connection] = []
        self.url = ""  # ws://127.0.0.1:PORT/gateway/ once serving
        self.resume_url = ""

    # -- test helpers ------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The newest session (normally the only one)."""
        return list(self.sessions.values())[-1] if self.sessions else None

    def connected(self) -> bool:
        s = self.session
        return s is not None and s.conn is not None

    async def wait_connected(self, timeout: float = 5.0) -> Session:  # noqa: ASYNC109
        """Until a client is identified or resumed and every frame queued for it was written
        (READY and the GUILD_CREATEs: discord.py fires on_ready guild_ready_timeout later)."""

        def live() -> Session | None:
            s = self.session
            ok = s is not None and s.conn is not None and s.conn.authenticated
            return s if ok and s.conn.flushed else None  # type: ignore[union-attr]

        session: Session = await self.state.wait_for(live, timeout)
        return session

    def identifies(self) -> int:
        return sum(1 for h in self.handshakes if h.kind == "identify")

    def resumes(self) -> int:
        return sum(1 for h in self.handshakes if h.kind == "resume")

    async def force_reconnect(self) -> None:
        """Op 7 RECONNECT: the client closes and RESUMEs at resume_gateway_url."""
        conn = self._live()
        conn.put(json.dumps({"op": RECONNECT, "d": None}))
        await self.state.wait_for(lambda: conn.ws.closed)

    async def drop(self, code: int = 4000) -> None:
        """Close the socket from the server side with ``code`` (4000: the client resumes)."""
        conn = self._live()
        await conn.close(code=code, message=b"fake: dropped")
        await self.state.wait_for(lambda: conn.ws.closed)

    async def invalidate(self, resumable: bool = False) -> None:
        """Op 9 INVALID_SESSION: with ``resumable`` false the client IDENTIFYs anew."""
        conn = self._live()
        if not resumable:
            for sid, sess in list(self.sessions.items()):
                if sess.conn is conn:
                    del self.sessions[sid]
        conn.put(json.dumps({"op": INVALID_SESSION, "d": resumable}))
        await self.state.wait_for(lambda: conn.ws.closed)

    def _live(self) -> Connection:
        s = self.session
        assert s is not None and s.conn is not None, "no client is connected to the fake gateway"
        return s.conn

    # -- dispatch ----------------------------------------------------------------------------

    def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        intent: int | None = None,
        content_of: StoredMessage | None = None,
    ) -> None:
        """Send an event to every session whose intents include ``intent`` (None: always).

        Sessions that are disconnected keep it for their RESUME. For a guild message without
        the MESSAGE_CONTENT intent, content/embeds/attachments/components are emptied unless
        the bot is mentioned or wrote it (discord-api-docs gateway "Message Content Intent")."""
        for sess in self.sessions.values():
            if intent is not None and not sess.intents & intent:
                continue
            d = data
            if content_of is not None and not self._sees_content(sess, content_of):
                d = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            sess.seq += 1
            frame = {"op": DISPATCH, "t": event, "s": sess.seq, "d": d}
            sess.sent.append(frame)
            if sess.conn is not None:
                sess.conn.put(json.dumps(frame))

    def _sees_content(self, sess: Session, msg: StoredMessage) -> bool:
        bot = self.state.bot.id
        return bool(
            sess.intents & MESSAGE_CONTENT
            or msg.guild_id is None
            or msg.author.id == bot
            or bot in msg.mentions
        )

    async def drain(self) -> None:
        """Until every frame queued so far was written (or its connection closed)."""
        conns = list(self.connections)
        await self.state.wait_for(lambda: all(c.flushed or c.ws.closed for c in conns))

    # -- the WebSocket -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        conn = Connection(ws, request.path, compress)
        self.connections.append(conn)
        writer = asyncio.create_task(self._writer(conn))
        try:
            await self.open.wait()
            self._send(conn, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await conn.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._received(conn, payload)
        finally:
            # A client closing with 1000/1001 ends its session (no RESUME after that).
            ended = not conn.closed_by_server and ws.close_code in (1000, 1001)
            for sid, sess in list(self.sessions.items()):
                if sess.conn is conn:
                    sess.conn = None
                    if ended:
                        del self.sessions[sid]
            conn.queue.put_nowait(None)
            await writer
            self.connections.remove(conn)
            self.state.notify()
        return ws

    def _send(self, conn: Connection, payload: dict[str, Any]) -> None:
        conn.put(json.dumps(payload))

    async def _writer(self, conn: Connection) -> None:
        while True:
            text = await conn.queue.get()
            try:
                if text is None:
                    return
                if conn.ws.closed:
                    continue
                try:
                    if conn.compress:
                        await conn.ws.send_bytes(conn.encode(text))
                    else:
                        await conn.ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    continue
            finally:
                conn.written += 1
                conn.queue.task_done()
                self.state.notify()

    async def _received(self, conn: Connection, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        now = time.monotonic()
        if op != HEARTBEAT:  # heartbeats are not counted (tests use short intervals)
            conn.received = [t for t in conn.received if now - t < self.send_window_s] + [now]
        if len(conn.received) > self.send_limit:
            await conn.close(code=4008, message=b"Rate limited.")
        elif op == HEARTBEAT:
            self.heartbeats += 1
            if self.ack_heartbeats:
                self._send(conn, {"op": HEARTBEAT_ACK})
        elif op in (IDENTIFY, RESUME) and conn.authenticated:
            await conn.close(code=4005, message=b"Already authenticated.")
        elif op == IDENTIFY:
            await self._identify(conn, d or {})
        elif op == RESUME:
            await self._resume(conn, d or {})
        elif not conn.authenticated:
            await conn.close(code=4003, message=b"Not authenticated.")
        elif op not in (3, 4, 8, 31):  # presence, voice state, request members, soundboard
            await conn.close(code=4001, message=b"Unknown opcode.")
        self.state.notify()

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> None:
        if d.get("token") != self.state.token:
            self.handshakes.append(Handshake("invalid", None, conn.path))
            await conn.close(code=4004, message=b"Authentication failed.")
            return
        if self.close_on_identify is not None:
            self.handshakes.append(Handshake("invalid", None, conn.path))
            await conn.close(code=self.close_on_identify, message=b"fake: refused")
            return
        intents = int(d.get("intents", 0))
        if intents & PRIVILEGED & ~self.portal_intents:
            self.handshakes.append(Handshake("invalid", None, conn.path, intents=intents))
            await conn.close(code=4014, message=b"Disallowed intent(s).")
            return
        sess = Session(secrets.token_hex(16), intents, conn=conn)
        conn.authenticated = True
        self.sessions[sess.id] = sess
        shard = (int(d["shard"][0]), int(d["shard"][1])) if d.get("shard") else None
        self.handshakes.append(
            Handshake("identify", sess.id, conn.path, intents=intents, shard=shard)
        )
        state = self.state
        ready = {
            "v": 10,
            "user": {**user_json(state.bot), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in state.guilds],
            "session_id": sess.id,
            "resume_gateway_url": self.resume_url,
            "session_type": "normal",
            "application": {"id": str(state.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "shard": list(shard) if shard else [0, 1],
        }
        self._dispatch_one(sess, "READY", ready)
        if intents & GUILDS:
            for guild in state.guilds.values():
                self._dispatch_one(sess, "GUILD_CREATE", state.guild_payload(guild))

    def _dispatch_one(self, sess: Session, event: str, data: dict[str, Any]) -> None:
        sess.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": sess.seq, "d": data}
        sess.sent.append(frame)
        if sess.conn is not None:
            self._send(sess.conn, frame)

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> None:
        sess = self.sessions.get(str(d.get("session_id")))
        if sess is None or d.get("token") != self.state.token:
            self.handshakes.append(Handshake("invalid", d.get("session_id"), conn.path))
            self._send(conn, {"op": INVALID_SESSION, "d": False})
            return
        seq = d.get("seq") or 0
        self.handshakes.append(Handshake("resume", sess.id, conn.path, seq, sess.intents))
        if sess.conn is not None and sess.conn is not conn:
            await sess.conn.close(code=4000, message=b"fake: resumed elsewhere")
        sess.conn = conn
        conn.authenticated = True
        for frame in sess.sent:
            if frame["s"] > seq:
                self._send(conn, frame)
        self._dispatch_one(sess, "RESUMED", {"_trace": ["fake-gateway"]})
