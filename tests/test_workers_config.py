"""The ``workers:`` section (issue 15): validated with key paths, shown by check-config, and
what several workers need from the rest of the config, named by ``preflight``."""

from __future__ import annotations

from bots.app import App, build_adapters, preflight
from bots.shared.flood_plan import Window
from tests.test_config import RELAY, parse, problems

WEBHOOK = (
    "telegram:\n  enabled: true\n  token: '1:T'\n  webhook:\n"
    "    url: https://bot.example/hook\n    secret_token: s3\n"
)


def test_defaults_are_one_process_alone() -> None:
    settings = parse(RELAY)
    workers = settings.workers
    assert (workers.count, workers.id, workers.lease_s, workers.poll_s) == (1, "", 30.0, 0.5)
    assert not workers.shared
    assert workers.name()  # host-pid when no id is given
    assert "workers: 1 (this process alone)" in settings.summary()


def test_values_and_summary() -> None:
    text = RELAY + "workers:\n  count: 3\n  id: w-2\n  lease_s: 5\n  poll_s: 0.2\n"
    settings = parse(text)
    assert settings.workers.shared and settings.workers.name() == "w-2"
    assert "workers: 3, this one w-2, lease 5s, poll 0.2s" in settings.summary()


def test_an_id_from_the_environment() -> None:
    text = RELAY + "workers:\n  count: 2\n  id: ${WORKER}\n"
    assert parse(text, {"WORKER": "bot-b"}).workers.name() == "bot-b"


def test_bad_values_name_their_key_paths() -> None:
    text = RELAY + "workers:\n  count: 0\n  id: 'a b'\n  lease_s: 0.1\n  poll_s: x\n  shards: 2\n"
    found = dict(problems(text))
    assert found["workers.count"] == "must be an integer from 1 to 64"
    assert found["workers.id"].startswith("must be empty or 1-64 of A-Z a-z 0-9")
    assert found["workers.lease_s"] == "must be a number of seconds from 1 to 600"
    assert found["workers.poll_s"] == "must be a number of seconds from 0.05 to 60"
    assert "workers.shards" in found


def test_several_workers_need_the_telegram_webhook() -> None:
    polling = RELAY + "workers:\n  count: 2\ntelegram:\n  enabled: true\n  token: '1:T'\n"
    found = dict(preflight(parse(polling)))
    assert found["telegram.webhook.url"].startswith("required when workers.count is 2")
    webhook = RELAY + "workers:\n  count: 2\n" + WEBHOOK
    assert "telegram.webhook.url" not in dict(preflight(parse(webhook)))
    alone = RELAY + "telegram:\n  enabled: true\n  token: '1:T'\n"
    assert "telegram.webhook.url" not in dict(preflight(parse(alone)))


def test_the_global_flood_budget_is_split_between_the_workers() -> None:
    limits = "  limits:\n    per_chat_per_s: 1\n    per_group_per_min: 20\n    global_per_s: 30\n"
    storage = "storage:\n  url: postgresql://bot:pw@127.0.0.1:1/none\n"
    for count, overall in ((1, 30), (2, 15), (3, 10), (64, 1)):
        text = RELAY + storage + f"workers:\n  count: {count}\n" + WEBHOOK + limits
        app = App(parse(text))  # nothing is connected before start()
        (adapter,) = build_adapters(app, ["telegram"])
        rules = adapter.flood_rules  # type: ignore[attr-defined]
        assert rules.overall == Window(overall, 1.0)
        # a chat is answered by one worker at a time: its budgets stay whole
        assert rules.chat == Window(1, 1.0) and rules.group == Window(20, 60.0)


def test_several_workers_need_postgresql() -> None:
    sqlite = RELAY + "workers:\n  count: 2\n"
    found = dict(preflight(parse(sqlite)))
    assert found["workers.count"].startswith("2 workers need one shared PostgreSQL database")
    storage = "storage:\n  url: postgresql://bot:pw@127.0.0.1:1/none\n"
    postgres = RELAY + storage + "workers:\n  count: 2\n"
    assert "workers.count" not in dict(preflight(parse(postgres)))
    assert "workers.count" not in dict(preflight(parse(RELAY)))


def test_several_workers_need_their_own_discord_shards() -> None:
    discord = "discord:\n  enabled: true\n  token: 'd.t'\n"
    storage = "storage:\n  url: postgresql://bot:pw@127.0.0.1:1/none\n"
    whole = RELAY + storage + "workers:\n  count: 2\n" + discord
    found = dict(preflight(parse(whole)))
    assert found["discord.shard_ids"].startswith("required when workers.count is 2")
    sharded = whole + "  shard_count: 2\n  shard_ids: [1]\n"
    assert "discord.shard_ids" not in dict(preflight(parse(sharded)))
    alone = RELAY + discord
    assert "discord.shard_ids" not in dict(preflight(parse(alone)))
