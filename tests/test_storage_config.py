"""``storage.url`` / ``storage.path`` / ``storage.pool_size``: which database, checked with
key paths; the password inside the URL is a secret (errors, summaries, check-config, logs)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bots.app import App
from bots.cli import main
from bots.platforms import SECTIONS
from core.config.settings import Settings, parse_config
from core.errors import ConfigError
from tests.conftest import write_config
from tests.fake_relay import FakeRelay
from tests.pg import pg_url

__all__ = ["pg_url"]

PASSWORD = "Cfg-S3cret-Passw0rd-77"
RELAY = "relay:\n  base_url: http://127.0.0.1:9/v1\n  api_key: sk-x\n"


def parse(storage: str) -> Settings:
    return parse_config(RELAY + "storage:\n" + storage, "c.yaml", {}, sections=SECTIONS)


def problems(storage: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse(storage)
    assert PASSWORD not in str(caught.value)
    return dict(caught.value.problems)


def test_the_default_and_the_short_form() -> None:
    default = parse("  retention_days: 9\n").storage
    assert (default.database().path, default.database().is_postgres) == ("data/relaybot.db", False)
    assert parse("  path: x/bot.db\n").storage.database().path == "x/bot.db"
    relative = parse("  url: sqlite:///x/bot.db\n").storage
    assert (relative.path, relative.database().path) == ("x/bot.db", "x/bot.db")
    assert parse("  url: sqlite:////srv/bot.db\n").storage.path == "/srv/bot.db"
    same = parse("  url: sqlite:///x/bot.db\n  path: x/bot.db\n").storage
    assert same.database().path == "x/bot.db"
    pg = parse(f"  url: postgresql://bot:{PASSWORD}@db:5432/relaybot\n  pool_size: 4\n").storage
    assert pg.database().is_postgres and pg.pool_size == 4
    assert pg.describe() == "postgresql://***@db:5432/relaybot (pool 4)"


def test_url_and_path_naming_different_databases_is_an_error() -> None:
    found = problems("  url: sqlite:///a.db\n  path: b.db\n")
    assert "storage.url and storage.path name different databases" in found["storage.url"]
    # a PostgreSQL url beside a path (the example config, with $RELAYBOT_DB_URL set): the
    # database is PostgreSQL, the path only places local files
    both = parse(f"  url: postgresql://bot:{PASSWORD}@db/relaybot\n  path: data/bot.db\n")
    assert both.storage.database().is_postgres and both.storage.path == "data/bot.db"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"mysql://bot:{PASSWORD}@db/relaybot", "is not a storage URL"),
        (f"postgresql://bot:{PASSWORD}@/relaybot", "needs a host"),
        (f"postgresql://bot:{PASSWORD}@db:5432", "needs a database name"),
        (f"postgresql://bot:{PASSWORD}@db:port/x", "not a valid URL"),
        ("sqlite://relative.db", "three slashes"),
        ("sqlite:///", "names a file"),
    ],
)
def test_a_bad_url_is_named_without_its_password(url: str, says: str) -> None:
    found = problems(f"  url: {url}\n")
    assert says in found["storage.url"]


def test_pool_size_is_bounded() -> None:
    assert "from 1 to 100" in problems("  pool_size: 0\n")["storage.pool_size"]


def test_the_password_is_a_secret() -> None:
    settings = parse(f"  url: postgresql://bot:{PASSWORD}@db:5432/relaybot\n")
    assert PASSWORD in settings.secrets()
    assert PASSWORD not in repr(settings) and PASSWORD not in "\n".join(settings.summary())


def test_check_config_connects_to_postgresql_without_showing_the_password(
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", "sk-test-key")
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    url = f"{scheme}://{user}:{PASSWORD}@{host}"
    good = write_config(tmp_path, "http://127.0.0.1:9/v1", storage=f"  url: {url}")
    assert main(["check-config", "-c", str(good)]) == 0
    out, err = capsys.readouterr()
    assert "storage: postgresql://***@" in out and "database: reachable" in out
    assert PASSWORD not in out + err

    down = url.replace(host.split("/")[0], "127.0.0.1:1")
    bad = write_config(tmp_path, "http://127.0.0.1:9/v1", storage=f"  url: {down}")
    assert main(["check-config", "-c", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert "storage.url: cannot connect to the PostgreSQL database" in err
    assert "storage.url=postgresql://***@127.0.0.1:1/" in err and PASSWORD not in out + err


async def test_the_app_logs_where_its_data_is_without_the_password(
    tmp_path: Path, pg_url: str, fake_relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    url = f"{scheme}://{user}:{PASSWORD}@{host}"
    path = write_config(tmp_path, fake_relay.url, storage=f"  url: {url}")
    text = path.read_text(encoding="utf-8")
    settings = parse_config(text, str(path), {"RELAY_API_KEY": "sk-k"}, sections=SECTIONS)
    with caplog.at_level(logging.DEBUG):
        async with App(settings):
            pass
    assert "started storage=postgresql://***@" in caplog.text
    assert PASSWORD not in caplog.text
