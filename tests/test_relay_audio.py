"""AudioClient against FakeRelay over real HTTP: speech bytes, transcription forms, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.errors import (
    RelayAuthError,
    RelayBadRequestError,
    RelayBadResponseError,
    RelayForbiddenError,
    RelayQuotaError,
    RelayUpstreamError,
    TextTooLongError,
    user_text,
)
from core.relay.audio import SPEECH_MAX_CHARS, AudioClient
from core.relay.client import RelayClient
from core.texts.i18n import t
from tests.fake_relay import FakeRelay, Json, OpenAIError, Raw

KEY = "sk-audio-test-SECRET-0123456789"
OGG = b"OggS\x00\x02" + b"\x00" * 40  # what a voice note starts with


class Sleeps(list[float]):
    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def relay(fake_relay: FakeRelay, sleeps: Sleeps) -> AsyncIterator[RelayClient]:
    async with RelayClient(fake_relay.url, KEY, max_retries=2, sleep=sleeps) as c:
        yield c


@pytest.fixture
def audio(relay: RelayClient) -> AudioClient:
    return AudioClient(relay)


# -- text to speech ---------------------------------------------------------------------------


async def test_speech_returns_ogg_opus_bytes(audio: AudioClient, fake_relay: FakeRelay) -> None:
    data = await audio.speech("你好，世界", model="tts-1", voice="alloy")
    assert data.startswith(b"OggS") and "你好，世界".encode() in data
    request = fake_relay.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/audio/speech")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.json == {
        "model": "tts-1",
        "input": "你好，世界",
        "voice": "alloy",
        "response_format": "opus",
    }
    assert fake_relay.speeches == [request.json]


async def test_speech_in_another_format(audio: AudioClient, fake_relay: FakeRelay) -> None:
    data = await audio.speech("hi", model="tts-1-hd", voice="nova", response_format="mp3")
    assert data.startswith(b"ID3")
    assert fake_relay.speeches[0]["response_format"] == "mp3"


async def test_text_at_the_limit_is_spoken(audio: AudioClient, fake_relay: FakeRelay) -> None:
    text = "字" * SPEECH_MAX_CHARS
    assert (await audio.speech(text, model="tts-1", voice="alloy")).startswith(b"OggS")
    assert len(fake_relay.speeches[0]["input"]) == 4096


async def test_too_long_text_is_refused_without_calling_the_relay(
    audio: AudioClient, fake_relay: FakeRelay
) -> None:
    with pytest.raises(TextTooLongError) as caught:
        await audio.speech("a" * 4097, model="tts-1", voice="alloy")
    assert fake_relay.requests == []
    err = caught.value
    assert err.fields == {"limit": "4096"}
    assert user_text(err, "en") == t("error.text_too_long", "en", limit="4096")
    assert "4096" in user_text(err, "zh") and "4096" in user_text(err, "en")
    with pytest.raises(ValueError):
        await audio.speech("  ", model="tts-1", voice="alloy")
    assert fake_relay.requests == []


async def test_the_relays_own_limit_is_a_bad_request(fake_relay: FakeRelay) -> None:
    # What the relay does with too much text, for a client that skipped the check.
    async with RelayClient(fake_relay.url, KEY) as relay:
        with pytest.raises(RelayBadRequestError) as caught:
            body = {"model": "tts-1", "input": "a" * 5000, "voice": "alloy"}
            await relay.request_bytes("POST", "/v1/audio/speech", body)
    assert caught.value.status == 400 and "at most 4096 characters" in caught.value.detail


async def test_speech_errors_are_classified(audio: AudioClient, fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(OpenAIError(401, "无效的令牌"))
    with pytest.raises(RelayAuthError):
        await audio.speech("hi", model="tts-1", voice="alloy")
    fake_relay.enqueue(OpenAIError(403, "user quota is not enough", code="insufficient_user_quota"))
    with pytest.raises(RelayQuotaError):
        await audio.speech("hi", model="tts-1", voice="alloy")
    fake_relay.enqueue(OpenAIError(200, "upstream said no", type="upstream_error"))
    with pytest.raises(RelayUpstreamError) as inside:  # an error object inside a 200 answer
        await audio.speech("hi", model="tts-1", voice="alloy")
    assert inside.value.detail == "upstream said no"
    with pytest.raises(RelayBadRequestError):
        await audio.speech("hi", model="tts-1", voice="robot")


@pytest.mark.parametrize(
    "answer",
    [Json(200, {"text": "no audio"}), Raw(200, b"", "audio/ogg"), Raw(200, b"<p>", "text/html")],
)
async def test_speech_that_is_not_audio(
    audio: AudioClient, fake_relay: FakeRelay, answer: Json | Raw
) -> None:
    fake_relay.enqueue(answer)
    with pytest.raises(RelayBadResponseError):
        await audio.speech("hi", model="tts-1", voice="alloy")


async def test_speech_is_retried_after_a_5xx(
    audio: AudioClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    fake_relay.enqueue(OpenAIError(500, "请求上游地址失败", code="do_request_failed"))
    assert (await audio.speech("hi", model="tts-1", voice="alloy")).startswith(b"OggS")
    assert len(fake_relay.speeches) == 2 and len(sleeps) == 1


# -- transcription ----------------------------------------------------------------------------


async def test_transcription_sends_a_multipart_form(
    audio: AudioClient, fake_relay: FakeRelay
) -> None:
    text = await audio.transcribe(OGG, "voice.ogg", "audio/ogg", model="whisper-1", language="zh")
    assert text == "transcribed: voice.ogg"
    request = fake_relay.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/audio/transcriptions")
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.form == {
        "model": "whisper-1",
        "language": "zh",
        "file": ("voice.ogg", OGG, "audio/ogg"),
    }
    assert fake_relay.transcriptions == [request.form]


async def test_transcription_without_language(audio: AudioClient, fake_relay: FakeRelay) -> None:
    fake_relay.transcript = "  明天上午十点开会。\n"
    text = await audio.transcribe(b"ID3abc", "memo.mp3", "audio/mpeg", model="gpt-4o-transcribe")
    assert text == "明天上午十点开会。"
    assert fake_relay.transcriptions[0] == {
        "model": "gpt-4o-transcribe",
        "file": ("memo.mp3", b"ID3abc", "audio/mpeg"),
    }


@pytest.mark.parametrize(
    "answer",
    [
        Raw(200, b"plain words\n", "text/plain; charset=utf-8"),
        Raw(200, b'{"text": "plain words"}', "text/plain"),  # JSON sent as text/plain
        Json(200, {"text": "plain words", "task": "transcribe", "duration": 1.2}),
    ],
)
async def test_transcription_answers_json_or_text(
    audio: AudioClient, fake_relay: FakeRelay, answer: Json | Raw
) -> None:
    fake_relay.enqueue(answer)
    assert await audio.transcribe(OGG, "v.ogg", "audio/ogg", model="whisper-1") == "plain words"


@pytest.mark.parametrize(
    "answer", [Json(200, {"segments": []}), Raw(200, b"{broken", "application/json")]
)
async def test_unreadable_transcription(
    audio: AudioClient, fake_relay: FakeRelay, answer: Json | Raw
) -> None:
    fake_relay.enqueue(answer)
    with pytest.raises(RelayBadResponseError):
        await audio.transcribe(OGG, "v.ogg", "audio/ogg", model="whisper-1")


async def test_transcription_errors_are_classified(
    audio: AudioClient, fake_relay: FakeRelay
) -> None:
    with pytest.raises(RelayBadRequestError) as caught:
        await audio.transcribe(b"", "empty.ogg", "audio/ogg", model="whisper-1")
    assert caught.value.detail == "file is required"
    fake_relay.enqueue(OpenAIError(403, "该令牌无权访问模型 whisper-1"))
    with pytest.raises(RelayForbiddenError) as forbidden:
        await audio.transcribe(OGG, "v.ogg", "audio/ogg", model="whisper-1")
    assert user_text(forbidden.value, "en") == t("error.relay_forbidden", "en")
