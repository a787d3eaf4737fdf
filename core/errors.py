"""Typed errors of relaybot, and the one place that turns them into user text.

    BotError
    ├── RelayError                     the relay answered with an error, or could not be reached
    │   ├── RelayAuthError             401: missing, bad, expired or used-up key
    │   ├── RelayQuotaError            403/400: balance or quota exhausted
    │   ├── RelayForbiddenError        403: model not allowed for this key, user banned
    │   ├── RelayNoChannelError        503: no channel sells this model to the key's group
    │   ├── RelayRateLimitError        429: rate limited or upstream saturated
    │   ├── RelayUpstreamError         5xx: gateway or upstream failure
    │   ├── RelayTimeoutError          504/524 or our own timeout
    │   ├── RelayNetworkError          connection refused, DNS, TLS...
    │   ├── RelayBadRequestError       400/404/other 4xx: rejected parameters
    │   ├── RelayBadResponseError      200 with a body we cannot read
    │   │   └── RelayTooLargeError     a body, SSE line or stream over its size cap
    │   ├── VideoSubmitError           a Luma/Kling/Runway submit answered 2xx but refused the task
    │   ├── SunoSubmitError            a Suno submit refused (code other than "success", or 400/500)
    │   └── MjSubmitError              Midjourney submit answered with a code other than 1/21/22
    │       ├── MjBannedPromptError    code 24: the prompt contains a banned word
    │       ├── MjQueueFullError       code 23: the upstream queue is full
    │       └── MjRejectedError        any other code (4 validation, 3 no account, 9, unknown)
    ├── MediaDownloadError             a generated file could not be fetched (HTTP error, timeout)
    │   └── MediaRefusedError          its URL is on a non-public address (SSRF guard)
    ├── MediaTooLargeError             a generated file is larger than the download cap
    ├── StorageError                   the database cannot be opened, read or written
    │   └── StorageUnavailableError    ...for now: locked by another process, disk full, I/O error
    ├── StartupError                   relaybot cannot start (a platform unreachable, port in use)
    │   └── CredentialsError           a platform rejected its token
    └── UserInputError                 the user asked for something we cannot do
        ├── UnknownModelError          /model NAME not in the allow-list
        ├── NotEnabledError            a command whose feature is not built or not configured
        ├── FeatureUnavailableError    the relay does not implement it (501/404), e.g. image edits
        ├── ExpiredButtonError         a pressed button whose action is no longer known
        ├── MissingImageError          /vision without a picture
        │   └── DescribeImageMissingError  /describe without a picture
        ├── JobLimitError              the user already runs as many jobs as allowed
        ├── SubmitUncertainError       a paid submit timed out: it may run, it is not repeated
        ├── TextTooLongError           text to speak is over the speech limit (``limit`` chars)
        ├── InputTooLongError          a message over ``chat.max_input_chars``
        ├── ConversationBusyError      too many messages already wait for this conversation
        ├── UnsupportedImageError      a picture we cannot decode: broken, unknown format, too big
        ├── NoTargetError              a typed button (/u2, /continue) with no result to act on
        ├── NoSuchButtonError          the result replied to does not offer that typed button
        └── NothingToResendError       /resend, but no delivery of the user's was interrupted

Each error carries a ``code`` (stable, for logs) and, for relay errors, the relay's request id.
``user_text(exc, lang)`` is the only function that words an error for a user; it walks the
exception's MRO against one table, so a subclass without its own text gets its parent's.
"""

from __future__ import annotations

from core.texts.i18n import Lang, has_text, t


class BotError(Exception):
    """Base of every error relaybot raises on purpose."""

    code = "internal"


class ConfigError(BotError):
    """The configuration file is invalid; ``problems`` lists ``(key path, what is wrong)``."""

    code = "config"

    def __init__(self, problems: list[tuple[str, str]], source: str = "") -> None:
        self.problems = problems
        self.source = source
        lines = [f"{path}: {what}" if path else what for path, what in problems]
        head = f"invalid configuration in {source}" if source else "invalid configuration"
        super().__init__(head + ":\n  " + "\n  ".join(lines))


class StorageError(BotError):
    """The database at ``storage.path`` cannot be used; the message says what to fix."""

    code = "storage"


class StorageUnavailableError(StorageError):
    """The database is fine but cannot be used now: locked, disk full, I/O error."""

    code = "storage_unavailable"


class StartupError(BotError):
    """relaybot cannot start; the message (never a secret) names what to fix."""

    code = "startup"


class CredentialsError(StartupError):
    """A platform rejected the token it was given."""

    code = "credentials"


class RelayError(BotError):
    """The relay failed a request.

    Attributes:
        status: HTTP status, or 0 when no response arrived.
        detail: the relay's own message, for the admin's log only (never shown to users).
        request_id: the relay's request id, when it sent one.
    """

    code = "relay"

    def __init__(self, detail: str = "", *, status: int = 0, request_id: str = "") -> None:
        self.status = status
        self.detail = detail
        self.request_id = request_id
        super().__init__(
            f"{self.code} (HTTP {status}): {detail}" if status else f"{self.code}: {detail}"
        )


class RelayAuthError(RelayError):
    code = "relay_auth"


class RelayQuotaError(RelayError):
    code = "relay_quota"


class RelayForbiddenError(RelayError):
    code = "relay_forbidden"


class RelayNoChannelError(RelayError):
    code = "relay_no_channel"


class RelayRateLimitError(RelayError):
    code = "relay_rate_limited"


class RelayUpstreamError(RelayError):
    code = "relay_upstream"


class RelayTimeoutError(RelayError):
    code = "relay_timeout"


class RelayNetworkError(RelayError):
    code = "relay_network"


class RelayBadRequestError(RelayError):
    code = "relay_bad_request"


class RelayBadResponseError(RelayError):
    code = "relay_bad_response"


class RelayTooLargeError(RelayBadResponseError):
    """The relay sent more than the bot reads (a JSON body, an SSE line or a whole stream);
    reading stopped at ``limit`` bytes. Never retried: the request may have been charged."""

    code = "relay_too_large"

    def __init__(self, what: str, limit: int, *, status: int = 200, request_id: str = "") -> None:
        self.limit = limit
        super().__init__(f"{what} over {limit} bytes", status=status, request_id=request_id)


class MjSubmitError(RelayError):
    """A Midjourney submit refused: body ``code`` in ``mj_code``, its description in ``detail``."""

    code = "mj_submit"

    def __init__(
        self, detail: str = "", *, mj_code: int = 0, status: int = 200, request_id: str = ""
    ) -> None:
        self.mj_code = mj_code
        super().__init__(detail, status=status, request_id=request_id)


class VideoSubmitError(RelayError):
    """A video submit (Luma, Kling, Runway) refused in a 2xx answer; the reason is in ``detail``."""

    code = "video_submit"


class SunoSubmitError(RelayError):
    """A Suno submit refused: the body ``code`` (when there was one) in ``suno_code``."""

    code = "suno_submit"

    def __init__(
        self, detail: str = "", *, suno_code: str = "", status: int = 200, request_id: str = ""
    ) -> None:
        self.suno_code = suno_code
        super().__init__(detail, status=status, request_id=request_id)


class MjBannedPromptError(MjSubmitError):
    code = "mj_banned_prompt"


class MjQueueFullError(MjSubmitError):
    code = "mj_queue_full"


class MjRejectedError(MjSubmitError):
    code = "mj_rejected"


class MediaDownloadError(BotError):
    """A generated file could not be downloaded; ``detail`` (no secrets) is for the admin log."""

    code = "media_download"

    def __init__(self, detail: str = "", *, status: int = 0) -> None:
        self.detail = detail
        self.status = status
        head = f"{self.code} (HTTP {status})" if status else self.code
        super().__init__(f"{head}: {detail}")


class MediaRefusedError(MediaDownloadError):
    """A result URL points at a non-public address (loopback, private network, link-local...)
    that is neither the relay nor allowed in ``jobs.media_allow_hosts``; nothing was fetched."""

    code = "media_refused"


class MediaTooLargeError(BotError):
    """A generated file is over ``limit`` bytes; the download stopped there."""

    code = "media_too_large"

    def __init__(self, limit: int, detail: str = "") -> None:
        self.limit = limit
        self.detail = detail
        super().__init__(f"{self.code}: over {limit} bytes {detail}".rstrip())


class UserInputError(BotError):
    """Something the user asked for that cannot be done; ``args_for_text`` fill the text."""

    code = "user_input"

    def __init__(self, **fields: str) -> None:
        self.fields = fields
        super().__init__(f"{self.code}: {fields}")


class UnknownModelError(UserInputError):
    code = "unknown_model"


class NotEnabledError(UserInputError):
    code = "not_enabled"


class FeatureUnavailableError(UserInputError):
    """The relay does not implement a feature (HTTP 501/404); ``fields``: ``feature``."""

    code = "feature_unavailable"


class ExpiredButtonError(UserInputError):
    code = "expired_button"


class MissingImageError(UserInputError):
    code = "missing_image"


class DescribeImageMissingError(MissingImageError):
    """/describe without a photo: its own hint (the parent's names /vision)."""


class JobLimitError(UserInputError):
    code = "job_limit"


class SubmitUncertainError(UserInputError):
    code = "submit_uncertain"


class UnsupportedImageError(UserInputError):
    code = "unsupported_image"


class TextTooLongError(UserInputError):
    """Text to speak is longer than the speech route takes; ``fields``: ``limit``."""

    code = "text_too_long"


class InputTooLongError(UserInputError):
    """A message (text, caption, transcript, command) over ``chat.max_input_chars``;
    ``fields``: ``length``, ``limit``. Nothing of it reaches the relay or the history."""

    code = "input_too_long"


class ConversationBusyError(UserInputError):
    """``chat.max_queued_per_conversation`` messages already wait for this conversation."""

    code = "conversation_busy"


class PromptMissingError(UserInputError):
    code = "missing_prompt"


class BlendCountError(UserInputError):
    code = "blend_count"


class AudioTooLongError(UserInputError):
    code = "audio_too_long"


class NothingToSayError(UserInputError):
    code = "nothing_to_say"


class BadFlagError(UserInputError):
    code = "bad_flag"


class NeedsPhotoError(UserInputError):
    code = "needs_photo"


class NoPhotoPromptError(UserInputError):
    code = "no_photo_prompt"


class UnknownVideoModelError(UserInputError):
    code = "unknown_video_model"


class NoTargetError(UserInputError):
    code = "no_target"


class NoSuchButtonError(UserInputError):
    code = "no_such_button"


class NothingToResendError(UserInputError):
    code = "nothing_to_resend"


# issue 12: access and spending
class QuotaExceededError(UserInputError):
    """A quota would be exceeded; ``fields``: ``limit``, ``used``, ``max``, ``resets``."""

    code = "quota_exceeded"


class UserRateLimitedError(UserInputError):
    code = "user_rate_limited"


class ModelNotAllowedError(UserInputError):
    code = "model_not_allowed"


class NotChatAdminError(UserInputError):
    code = "not_chat_admin"


class AdminOnlyError(UserInputError):
    code = "admin_only"


# The one table: error class -> i18n key. Looked up along the MRO.
_TEXT_KEYS: dict[type[BaseException], str] = {
    BotError: "error.internal",
    StorageError: "error.storage",
    RelayError: "error.relay",
    RelayAuthError: "error.relay_auth",
    RelayQuotaError: "error.relay_quota",
    RelayForbiddenError: "error.relay_forbidden",
    RelayNoChannelError: "error.relay_no_channel",
    RelayRateLimitError: "error.relay_rate_limited",
    RelayUpstreamError: "error.relay_upstream",
    RelayTimeoutError: "error.relay_timeout",
    RelayNetworkError: "error.relay_network",
    RelayBadRequestError: "error.relay_bad_request",
    RelayBadResponseError: "error.relay_upstream",
    RelayTooLargeError: "error.relay_too_large",
    MjSubmitError: "error.mj_rejected",
    MjBannedPromptError: "error.mj_banned_prompt",
    MjQueueFullError: "error.mj_queue_full",
    MjRejectedError: "error.mj_rejected",
    SunoSubmitError: "error.suno_rejected",
    VideoSubmitError: "error.video_rejected",
    MediaDownloadError: "error.media_download",
    MediaTooLargeError: "error.media_too_large",
    FeatureUnavailableError: "error.feature_unavailable",
    UnknownModelError: "error.unknown_model",
    NotEnabledError: "error.not_enabled",
    ExpiredButtonError: "error.expired_button",
    MissingImageError: "error.missing_image",
    DescribeImageMissingError: "error.describe_missing_image",
    UnsupportedImageError: "error.unsupported_image",
    JobLimitError: "error.job_limit",
    SubmitUncertainError: "job.submit_unknown",
    TextTooLongError: "error.text_too_long",
    InputTooLongError: "error.input_too_long",
    ConversationBusyError: "error.conversation_busy",
    PromptMissingError: "error.missing_prompt",
    BlendCountError: "error.blend_count",
    AudioTooLongError: "error.audio_too_long",
    BadFlagError: "error.bad_flag",
    NeedsPhotoError: "error.needs_photo",
    NoPhotoPromptError: "error.no_photo_prompt",
    UnknownVideoModelError: "error.unknown_video_model",
    NothingToSayError: "error.nothing_to_say",
    NoTargetError: "error.no_target",
    NoSuchButtonError: "error.no_such_button",
    NothingToResendError: "error.nothing_to_resend",
    QuotaExceededError: "error.quota_exceeded",
    UserRateLimitedError: "error.rate_limited_user",
    ModelNotAllowedError: "error.model_not_allowed",
    NotChatAdminError: "error.not_chat_admin",
    AdminOnlyError: "error.admin_only",
}


def user_text(exc: BaseException, lang: Lang, *, plain: bool = False) -> str:
    """Word ``exc`` for a user in ``lang``: short, no raw body, no traceback. ``plain``: for a
    platform without buttons, captions, albums or replies (its ``.plain`` wording, if any)."""
    fields: dict[str, str] = getattr(exc, "fields", {}) if isinstance(exc, UserInputError) else {}
    for cls in type(exc).__mro__:
        key = _TEXT_KEYS.get(cls)
        if key is not None:
            if plain and has_text(f"{key}.plain"):
                key = f"{key}.plain"
            return t(key, lang, **fields)
    return t("error.internal", lang)


def error_code(exc: BaseException) -> str:
    """The stable code of ``exc`` for logs and ``ErrorReply.code``."""
    return exc.code if isinstance(exc, BotError) else "internal"
