"""Secrets never reach a log line, a reply or an error; one log line per answer with its ids."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from bots.app import App
from core.logs import RedactingFormatter, setup_logging
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
    assert "key=test:u:zoe" in answer and "request_id=req-" in answer and "model=gpt-test" in answer
    error = next(line for line in logs.splitlines() if "code=relay_auth" in line)
    assert "key=test:u:zoe" in error and "request_id=req-" in error and "无效的令牌" in error


def test_a_secret_inside_a_url_is_redacted_in_its_encoded_form() -> None:
    formatter = RedactingFormatter([TG_TOKEN])
    url = "GET http://api/file/bot987654%3ATELEGRAM-TOKEN-SECRET-abcdef/photos/1.jpg"
    record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, url, (), None)
    assert formatter.format(record).endswith("GET http://api/file/bot***/photos/1.jpg")
