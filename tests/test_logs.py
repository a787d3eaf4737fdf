"""Secrets never reach a log line, a reply or an error; one log line per answer with its ids."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bots.app import App
from core.logs import QUIET_LOGGERS, RedactingFormatter, setup_logging
from tests.conftest import TEST_KEY, collect, make_settings, message
from tests.fake_relay import FakeRelay, OpenAIError, Raw

TG_TOKEN = "987654:TELEGRAM-TOKEN-SECRET-abcdef"


def test_formatter_redacts_messages_args_and_tracebacks() -> None:
    formatter = RedactingFormatter([TEST_KEY, TG_TOKEN, ""])
    try:
        raise ValueError(f"bad url https://api.telegram.org/bot{TG_TOKEN}/getMe key={TEST_KEY}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "auth %s", (TEST_KEY,), None)
        import sys

        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert TEST_KEY not in text and TG_TOKEN not in text
    assert "auth ***" in text and "bot***/getMe" in text


def test_json_format_is_redacted_too() -> None:
    formatter = RedactingFormatter([TEST_KEY], as_json=True)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key=%s", (TEST_KEY,), None)
    assert formatter.format(record).endswith('"msg": "key=***"}')


async def test_a_whole_session_logs_no_secret_and_names_key_and_request_id(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    stream = io.StringIO()
    settings = make_settings(tmp_path, fake_relay.url, "logging:\n  level: DEBUG")
    handler = setup_logging("DEBUG", settings.secrets(), stream=stream)
    try:
        async with App(settings) as app:
            fake_relay.enqueue(Raw(502, b"<html>bad gateway</html>", "text/html"))
            replies = await collect(app, message("hello", user="zoe"))
            fake_relay.enqueue(OpenAIError(401, "无效的令牌"))
            replies += await collect(app, message("again", user="zoe"))
            replies += await collect(app, message("/models", user="zoe"))
    finally:
        logging.getLogger().removeHandler(handler)
    logs = stream.getvalue()
    assert TEST_KEY not in logs
    assert all(TEST_KEY not in str(r) for r in replies)
    answer = next(line for line in logs.splitlines() if " answer " in line)
    # issue 13: the answer line names the conversation by a short hash, never by its key
    assert "conv=" in answer and "zoe" not in answer and "platform=test" in answer
    assert "request_id=req-" in answer and "model=gpt-test" in answer and "outcome=ok" in answer
    error = next(line for line in logs.splitlines() if "code=relay_auth" in line)
    assert "key=test:u:zoe" in error and "request_id=req-" in error and "无效的令牌" in error


def test_a_secret_inside_a_url_is_redacted_in_its_encoded_form() -> None:
    formatter = RedactingFormatter([TG_TOKEN])
    url = "GET http://api/file/bot987654%3ATELEGRAM-TOKEN-SECRET-abcdef/photos/1.jpg"
    record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, url, (), None)
    assert formatter.format(record).endswith("GET http://api/file/bot***/photos/1.jpg")


def test_credentials_inside_configured_urls_are_secrets(tmp_path: Path) -> None:
    extra = (
        "telegram:\n  proxy: socks5://tg-user:Proxy%40Pass-99@127.0.0.1:1080\n"
        "  base_url: https://bot-user:api-PASSWORD-7@tg.internal/bot\n"
    )
    settings = make_settings(tmp_path, "https://relay-user:relay-PASS-5@relay.test", extra)
    formatter = RedactingFormatter(settings.secrets())
    line = (
        "proxy socks5://tg-user:Proxy%40Pass-99@127.0.0.1:1080 said Proxy@Pass-99; "
        "relay https://relay-user:relay-PASS-5@relay.test; api-PASSWORD-7"
    )
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, line, (), None)
    text = formatter.format(record)
    for secret in ("Proxy%40Pass-99", "Proxy@Pass-99", "relay-PASS-5", "api-PASSWORD-7"):
        assert secret not in text
    assert "@127.0.0.1:1080" in text and "relay.test" in text  # where it went stays readable


def _debug_logs_of_reading_a_png() -> str:
    from PIL import Image

    from tests.pictures import picture

    stream = io.StringIO()
    handler = setup_logging("DEBUG", [], stream=stream)
    try:
        Image.open(io.BytesIO(picture(fmt="PNG"))).load()  # Pillow traces every PNG chunk
        logging.getLogger("relaybot.test").debug("our own debug line")
    finally:
        logging.getLogger().removeHandler(handler)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    return stream.getvalue()


def test_library_debug_noise_stays_out_of_debug_logs() -> None:
    logs = _debug_logs_of_reading_a_png()
    assert "our own debug line" in logs
    assert "PIL" not in logs and "STREAM" not in logs


def test_library_debug_logs_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYBOT_LIBRARY_LOGS", "1")
    logs = _debug_logs_of_reading_a_png()
    assert "our own debug line" in logs and "PIL.PngImagePlugin" in logs


async def test_a_user_mistake_is_logged_at_info(
    tmp_path: Path, fake_relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, fake_relay.url)
    async with App(settings) as app:
        with caplog.at_level(logging.DEBUG, logger="relaybot"):
            await collect(app, message("/vision what is this?", user="ann"))
    logged = [r for r in caplog.records if "code=missing_image" in r.getMessage()]
    assert logged and logged[0].levelno == logging.INFO


def test_a_crash_in_a_thread_is_logged_redacted() -> None:
    import sys
    import threading

    stream = io.StringIO()
    pytest_hooks = (threading.excepthook, sys.unraisablehook)
    handler = setup_logging("INFO", [TEST_KEY], stream=stream, catch_crashes=True)
    try:

        def crash() -> None:
            raise RuntimeError(f"boom with {TEST_KEY}")

        thread = threading.Thread(target=crash, name="worker-x")
        thread.start()
        thread.join()
    finally:
        logging.getLogger().removeHandler(handler)
        threading.excepthook, sys.unraisablehook = pytest_hooks
    logs = stream.getvalue()
    assert "thread worker-x crashed" in logs and "RuntimeError: boom with ***" in logs
    assert TEST_KEY not in logs
