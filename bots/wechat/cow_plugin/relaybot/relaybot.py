"""The relaybot plugin: each WeChat message CoW hands to plugins goes to relaybot, whose reply
parts come back as CoW replies; one background thread long-polls relaybot's outbox for what
comes later (Midjourney pictures, songs, videos) and delivers each delivery once.

Works on CoW 1.7.6 and 2.x (the plugin API is the same). Uses only the standard library.
"""

import base64
import collections
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time

import plugins
from bridge.context import ContextType
from bridge.reply import Reply, ReplyType
from common.log import logger
from config import conf
from plugins import Event, EventAction, Plugin

from .client import BridgeClient, BridgeError

PLUGIN_VERSION = "0.1.0"
THREAD_NAME = "relaybot-outbox"
TMP_PREFIX = "relaybot-cow-"
JOB_MEMORY_S = 24 * 3600
DELIVERED_KEEP = 2000
DEFAULT_FALLBACK = (
    "抱歉，机器人暂时无法回复，请稍后再试。"
    "(The bot cannot answer right now, please try again later.)"
)
ORIGINS = {
    ContextType.TEXT: "text",
    ContextType.SHARING: "text",
    ContextType.IMAGE_CREATE: "image_create",
    ContextType.IMAGE: "image",
    ContextType.VOICE: "voice",
    ContextType.FILE: "file",
}
KINDS = {ContextType.IMAGE: "image", ContextType.VOICE: "audio", ContextType.FILE: "file"}
# What each CoW channel can send (wechat-cow.md §2.4): video as VIDEO_URL, files as FILE.
VIDEO_CHANNELS = {"weixin", "wecom_bot", "wechatmp", "wechatmp_service", "wx", "wxy"}
FILE_CHANNELS = {"weixin", "wecom_bot", "feishu", "dingtalk", "wx", "wxy"}
SHORT_TEXT_CHANNELS = {"wechatmp": 600, "wechatmp_service": 600, "wechatcom_app": 2000}
UNSTABLE_ID_CHANNELS = {"wx", "wxy"}  # itchat ids change at every login
# 2.x channels add "[图片: /path]" (视频, 文件) to the next text; "[引用: …]" is an iLink quote.
MARKER_RE = re.compile(r"\[(图片|视频|文件):\s*([^\]\n]+)\]")
QUOTE_RE = re.compile(r"^\s*\[引用:\s*(.*?)\]\s*", re.DOTALL)
MARKER_KINDS = {"图片": "image", "视频": "video", "文件": "file"}
MIME_BY_EXT = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".silk": "audio/silk",
    ".amr": "audio/amr",
    ".mp4": "video/mp4",
    ".pdf": "application/pdf",
}


def _conf(key, default=None):
    """A CoW setting; 1.7.6 raises for a key it does not list, 2.x returns the default."""
    try:
        value = conf().get(key, default)
    except Exception:
        return default
    return default if value is None else value


def _setting(config, key, env, default):
    value = config.get(key) if config else None
    if value in (None, ""):
        value = os.environ.get(env, "")
    return value if value not in (None, "") else default


@plugins.register(
    name="relaybot",
    desire_priority=1100,
    hidden=False,
    desc="Answers WeChat messages with relaybot (chat, /img, /song, /video, /vision)",
    version=PLUGIN_VERSION,
    author="relaybot",
)
class Relaybot(Plugin):
    def __init__(self):
        super().__init__()
        try:
            config = self.load_config() or {}
        except Exception as exc:  # a broken config.json must not stop CoW
            logger.warning(f"[relaybot] cannot read the plugin config: {exc}")
            config = {}
        self.url = _setting(config, "url", "RELAYBOT_URL", "")
        token = _setting(config, "token", "RELAYBOT_TOKEN", "")
        self.instance = _setting(config, "instance", "RELAYBOT_INSTANCE", "")
        self.timeout_s = float(_setting(config, "timeout_s", "RELAYBOT_TIMEOUT_S", 30))
        self.poll_wait_s = float(_setting(config, "poll_wait_s", "RELAYBOT_POLL_WAIT_S", 25))
        self.part_interval_s = float(config.get("part_interval_s", 1.0))
        self.max_attachment = int(float(config.get("max_attachment_mb", 10)) * 1_000_000)
        self.pass_prefixes = tuple(config.get("pass_prefixes") or ["#"])
        self.fallback_text = config.get("fallback_text") or DEFAULT_FALLBACK
        self.client = BridgeClient(self.url, token, self.timeout_s) if self.url and token else None
        self._lock = threading.Lock()
        self._channels = {}  # channel_type -> channel object (the first message's)
        self._contexts = {}  # (channel_type, chat_id, sender_id) -> (channel, context)
        self._jobs = {}  # job_id -> (channel, context, time)
        self._delivered = collections.OrderedDict()
        state_dir = config.get("state_dir") or os.path.dirname(os.path.abspath(__file__))
        self._delivered_path = os.path.join(state_dir, "delivered.json")
        self._load_delivered()
        self._stop = threading.Event()
        self.handlers[Event.ON_HANDLE_CONTEXT] = self.on_handle_context
        if self.client is None:
            logger.error(
                "[relaybot] no url/token: set them in plugins/config.json ('relaybot' section) "
                "or RELAYBOT_URL / RELAYBOT_TOKEN; messages are not forwarded"
            )
            return
        self._start_poller()
        logger.info(f"[relaybot] v{PLUGIN_VERSION} forwarding to {self.client.base}")

    # --- messages in ---------------------------------------------------------------------

    def on_handle_context(self, e_context):
        context = e_context["context"]
        if self.client is None or context.type not in ORIGINS:
            return
        content = context.content
        if context.type in (ContextType.TEXT, ContextType.IMAGE_CREATE):
            text = (content or "").strip()
            if text.startswith(self.pass_prefixes):
                return  # godcmd admin commands (#…) and other plugins' prefixes
        channel = e_context["channel"]
        channel_type = context.get("channel_type") or _conf("channel_type", "")
        with self._lock:
            self._channels.setdefault(channel_type, channel)
        try:
            body = self._request(context, channel_type)
        except Exception as exc:
            logger.warning(f"[relaybot] message not forwarded: {exc}")
            self._answer(e_context, [Reply(ReplyType.TEXT, self.fallback_text)])
            return
        key = (channel_type, body["chat"]["id"], body["sender"]["id"])
        with self._lock:
            self._contexts[key] = (channel, context)
        try:
            answer = self.client.post_message(body)
        except BridgeError as exc:
            logger.warning(f"[relaybot] {exc}")
            text = self.fallback_text
            if exc.status == 429 and exc.body.get("user_text"):
                text = exc.body["user_text"]
            self._answer(e_context, [Reply(ReplyType.TEXT, text)])
            return
        now = time.time()
        with self._lock:
            for job in answer.get("jobs") or []:
                if job.get("job_id"):
                    self._jobs[job["job_id"]] = (channel, context, now)
            self._forget_old_jobs(now)
        replies = self._replies(answer.get("replies") or [], channel_type)
        self._answer(e_context, replies, channel, context)

    def _answer(self, e_context, replies, channel=None, context=None):
        """All but the last reply sent now; the last one goes back through CoW's own path."""
        if replies and channel is not None:
            for reply in replies[:-1]:
                self._send(channel, context, reply)
                if self.part_interval_s:
                    time.sleep(self.part_interval_s)
        e_context["reply"] = replies[-1] if replies else Reply()
        e_context.action = EventAction.BREAK_PASS

    def _request(self, context, channel_type):
        msg = context.get("msg")
        isgroup = bool(context.get("isgroup", False))
        if isgroup:
            sender_id = getattr(msg, "actual_user_id", None) or ""
            sender_name = getattr(msg, "actual_user_nickname", None) or ""
        else:
            sender_id = getattr(msg, "from_user_id", None) or ""
            sender_name = getattr(msg, "from_user_nickname", None) or ""
        chat_id = getattr(msg, "other_user_id", None) or context.get("receiver") or sender_id
        msg_id = getattr(msg, "msg_id", None)
        if not msg_id:
            seed = f"{chat_id}|{sender_id}|{context.content}|{getattr(msg, 'create_time', '')}"
            msg_id = hashlib.sha1(seed.encode("utf-8")).hexdigest()[:16]
        text, quote, attachments = "", None, []
        if context.type in KINDS:
            if msg is not None and hasattr(msg, "prepare"):
                msg.prepare()  # downloads the file (1.x channels, wechatcom, wechatmp)
            attachments.append(self._attachment(KINDS[context.type], context.content))
        else:
            text = str(context.content or "")
            found = QUOTE_RE.match(text)
            if found:
                quote, text = found.group(1).strip(), text[found.end() :]
            for kind, path in MARKER_RE.findall(text):
                try:
                    attachments.append(self._attachment(MARKER_KINDS[kind], path.strip()))
                except Exception as exc:
                    logger.warning(f"[relaybot] attachment left out: {exc}")
            text = MARKER_RE.sub("", text).strip()
        caps = {
            "image": True,
            "video": channel_type in VIDEO_CHANNELS,
            "file": channel_type in FILE_CHANNELS,
            "voice": False,
            "markdown": False,
            "max_text_chars": SHORT_TEXT_CHANNELS.get(channel_type, 4000),
        }
        return {
            "message_id": f"cow:{channel_type}:{msg_id}",
            "sent_at": int(getattr(msg, "create_time", None) or time.time()),
            "source": {
                "bridge": "cow",
                "cow_version": str(_conf("version", "") or ""),
                "plugin_version": PLUGIN_VERSION,
                "channel": channel_type,
            },
            "chat": {
                "id": chat_id,
                "type": "group" if isgroup else "private",
                "title": getattr(msg, "other_user_nickname", None) if isgroup else None,
            },
            "sender": {
                "id": sender_id,
                "name": sender_name,
                "id_stable": channel_type not in UNSTABLE_ID_CHANNELS,
            },
            "mentioned": bool(getattr(msg, "is_at", False)),
            "origin": ORIGINS[context.type],
            "text": text,
            "quote": quote,
            "attachments": attachments,
            "capabilities": caps,
            "conversation_ref": {
                "channel": channel_type,
                "receiver": context.get("receiver") or chat_id,
                "isgroup": isgroup,
                "session_id": context.get("session_id"),
                "sender_name": sender_name,
            },
        }

    def _attachment(self, kind, path):
        path = str(path)
        if kind == "audio" and not path.endswith((".mp3", ".wav")):
            path = self._to_wav(path)
        size = os.path.getsize(path)
        if size > self.max_attachment:
            raise BridgeError(f"{os.path.basename(path)} is larger than the cap")
        with open(path, "rb") as file:
            data = file.read()
        ext = os.path.splitext(path)[1].lower()
        return {
            "kind": kind,
            "mime": MIME_BY_EXT.get(ext, "application/octet-stream"),
            "filename": os.path.basename(path),
            "size": len(data),
            "data_b64": base64.b64encode(data).decode("ascii"),
        }

    @staticmethod
    def _to_wav(path):
        """A voice note (silk, amr…) as wav with CoW's own converter, when it has one."""
        try:
            from voice.audio_convert import any_to_wav
        except Exception:
            return path
        wav = os.path.splitext(path)[0] + ".wav"
        try:
            any_to_wav(path, wav)
            return wav
        except Exception as exc:
            logger.warning(f"[relaybot] voice not converted, sent as is: {exc}")
            return path

    # --- reply parts -> CoW replies ------------------------------------------------------

    def _replies(self, parts, channel_type):
        replies = []
        for part in parts:
            kind = part.get("type")
            url = part.get("url") or ""
            if part.get("caption"):
                replies.append(Reply(ReplyType.TEXT, part["caption"]))
            if kind in ("text", "error"):
                if part.get("text"):
                    replies.append(Reply(ReplyType.TEXT, part["text"]))  # TEXT, never [ERROR]
            elif kind == "image" and url:
                replies.append(Reply(ReplyType.IMAGE_URL, url))
            elif kind == "video" and url:
                if channel_type in VIDEO_CHANNELS:
                    replies.append(Reply(ReplyType.VIDEO_URL, url))
                else:
                    replies.append(Reply(ReplyType.TEXT, f"▶ {url}"))
            elif kind in ("audio", "file") and url:
                replies.append(self._file_reply(part, channel_type))
        return replies

    def _file_reply(self, part, channel_type):
        url = part["url"]
        title = part.get("title") or part.get("filename") or ""
        link = Reply(ReplyType.TEXT, f"{'🎵' if part['type'] == 'audio' else '📎'} {title} {url}")
        if channel_type not in FILE_CHANNELS:
            return link
        try:
            data = self.client.download(url, 200_000_000)
        except BridgeError as exc:
            logger.warning(f"[relaybot] {exc}")
            return link
        name = os.path.basename(part.get("filename") or "file.bin")
        _sweep_old_files()
        folder = tempfile.mkdtemp(prefix=TMP_PREFIX)
        path = os.path.join(folder, name)
        with open(path, "wb") as file:
            file.write(data)
        return Reply(ReplyType.FILE, path)

    def _send(self, channel, context, reply):
        """Through CoW's whole pipeline: group @mention, ON_SEND_REPLY, retries."""
        decorated = channel._decorate_reply(context, reply)
        if decorated is not None:
            channel._send_reply(context, decorated)

    # --- the outbox ----------------------------------------------------------------------

    def _start_poller(self):
        for thread in threading.enumerate():  # a reload (#reloadp) replaces the old poller
            if thread.name == THREAD_NAME and hasattr(thread, "relaybot_stop"):
                thread.relaybot_stop.set()
        thread = threading.Thread(target=self._poll_forever, name=THREAD_NAME, daemon=True)
        thread.relaybot_stop = self._stop
        thread.start()
        self._thread = thread

    def stop(self):
        self._stop.set()

    def _poll_forever(self):
        try:
            health = self.client.health()
            logger.info(f"[relaybot] relaybot is up: {health}")
        except BridgeError as exc:
            logger.warning(f"[relaybot] relaybot not reachable yet: {exc}")
        pause = 1.0
        while not self._stop.is_set():
            try:
                self.poll_once(self.poll_wait_s)
                pause = 1.0
            except BridgeError as exc:
                logger.warning(f"[relaybot] outbox poll failed, retrying in {pause:g}s: {exc}")
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
            except Exception as exc:  # never let the thread die
                logger.exception(f"[relaybot] outbox poll error: {exc}")
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)

    def poll_once(self, wait):
        """One long poll: deliver what came (each delivery_id once), then ack it."""
        deliveries = self.client.outbox(wait=wait, limit=20)
        acks = {}
        for delivery in deliveries:
            delivery_id = delivery.get("delivery_id")
            if not delivery_id:
                continue
            if delivery_id in self._delivered:
                acks[delivery_id] = "sent"  # delivered before, the ack was lost
                continue
            target = self._target(delivery)
            if target is None:
                continue  # no way to reach that chat yet: not acked, offered again later
            channel, context, channel_type = target
            for reply in self._replies(delivery.get("parts") or [], channel_type):
                self._send(channel, context, reply)
            self._remember_delivered(delivery_id)
            acks[delivery_id] = "sent"
        if acks:
            self.client.ack(list(acks), acks)
        return len(acks)

    def _target(self, delivery):
        """(channel, context, channel_type) to deliver to: the context of the message that
        started the job, else the conversation's latest, else one rebuilt from
        ``conversation_ref`` when that channel can send without a fresh message."""
        ref = delivery.get("conversation_ref") or {}
        channel_type = ref.get("channel", "")
        with self._lock:
            saved = self._jobs.get(delivery.get("job_id") or "")
            if saved is not None:
                return saved[0], saved[1], channel_type
            key = (channel_type, delivery.get("chat_id"), delivery.get("sender_id"))
            latest = self._contexts.get(key)
            if latest is not None:
                return latest[0], latest[1], channel_type
            channel = self._channels.get(channel_type)
        if channel is None or channel_type == "weixin":  # iLink needs the user's token
            return None
        context = _rebuilt_context(ref, delivery)
        return channel, context, channel_type

    def _forget_old_jobs(self, now):
        for job_id in [j for j, v in self._jobs.items() if now - v[2] > JOB_MEMORY_S]:
            del self._jobs[job_id]

    def _load_delivered(self):
        try:
            with open(self._delivered_path, encoding="utf-8") as file:
                for delivery_id in json.load(file):
                    self._delivered[delivery_id] = True
        except (OSError, ValueError, TypeError):
            pass

    def _remember_delivered(self, delivery_id):
        """Kept in memory and in delivered.json next to the plugin, so a CoW restart between
        a delivery and its ack does not deliver it twice."""
        self._delivered[delivery_id] = True
        while len(self._delivered) > DELIVERED_KEEP:
            self._delivered.popitem(last=False)
        try:
            tmp = self._delivered_path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as file:
                json.dump(list(self._delivered), file)
            os.replace(tmp, self._delivered_path)
        except OSError as exc:
            logger.warning(f"[relaybot] cannot save delivered ids: {exc}")

    def get_help_text(self, **kwargs):
        return "relaybot: chat, /img, /song, /video, /vision … (send /help)"


def _sweep_old_files(max_age_s=3600):
    """Remove the files this plugin downloaded for CoW more than an hour ago."""
    root = tempfile.gettempdir()
    now = time.time()
    try:
        names = [n for n in os.listdir(root) if n.startswith(TMP_PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(root, name)
        try:
            if now - os.path.getmtime(path) > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _rebuilt_context(ref, delivery):
    from bridge.context import Context

    isgroup = bool(ref.get("isgroup"))
    context = Context(ContextType.TEXT, "", {})
    context["receiver"] = ref.get("receiver") or delivery.get("chat_id")
    context["session_id"] = ref.get("session_id") or delivery.get("chat_id")
    context["isgroup"] = isgroup
    context["no_need_at"] = True  # no message object to @mention from
    context["channel_type"] = ref.get("channel", "")
    return context
