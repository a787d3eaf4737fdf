"""Issue 13: what can be checked of the Docker image and compose file without a container
engine: the user, the volume the example config writes to, the health check, the ports, the
dependency layer, the stop grace, and that the README's lines have every variable they need."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from bots.cli import main
from bots.platforms import SECTIONS
from core.config.settings import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "config.example.yaml"
REQUIRED = {"RELAY_BASE_URL": "https://relay.test", "RELAY_API_KEY": "sk-docker-test-key-1"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions():
        if word == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def of(word: str) -> list[str]:
    return [rest for w, rest in instructions() if w == word]


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)s", str(text))
    assert match, text
    return float(match.group(1))


def test_the_image_runs_as_a_non_root_user_with_a_data_volume() -> None:
    assert of("USER") == ["10001"]
    assert "--uid 10001" in DOCKERFILE
    assert of("VOLUME") == ['["/data"]']
    assert "chown relaybot:relaybot /data" in DOCKERFILE  # the volume is the user's to write


def test_dependencies_install_in_a_layer_before_the_code() -> None:
    steps = instructions()
    pyproject = steps.index(("COPY", "pyproject.toml ./"))
    deps = next(i for i, (w, r) in enumerate(steps) if w == "RUN" and "pip install -r" in r)
    code = next(i for i, (w, r) in enumerate(steps) if w == "COPY" and r.startswith("core "))
    assert pyproject < deps < code
    assert all(w != "COPY" or "pyproject" in r for w, r in steps[:deps])  # nothing else first
    assert any(w == "RUN" and "--no-deps" in r for w, r in steps[code:])


def test_the_example_config_writes_under_the_volume_with_the_image_env() -> None:
    env = {**image_env(), **REQUIRED}
    copied = next(r.split()[1] for w, r in instructions() if w == "COPY" and "config.example" in r)
    assert copied == env["RELAYBOT_CONFIG"]  # `relaybot run` (no -c) reads it
    settings = load_config(EXAMPLE, env, sections=SECTIONS)
    storage = Path(settings.storage.path)
    assert storage.is_absolute() and storage.parent == Path("/data")
    # Outside the container the same file keeps its database under ./data.
    local = load_config(EXAMPLE, REQUIRED, sections=SECTIONS)
    assert local.storage.path == "data/relaybot.db"
    assert not local.http.health and local.http.listen == "127.0.0.1"
    # In the image the HTTP server runs for the health check, reachable from outside.
    assert settings.http.health and settings.http.listen == "0.0.0.0"
    assert of("EXPOSE") == [str(settings.http.port)]


def test_the_health_check_asks_relaybot() -> None:
    (check,) = of("HEALTHCHECK")
    assert check.endswith('CMD ["relaybot", "health"]')
    assert of("CMD") == ['["relaybot", "run"]']


def test_compose_parses_and_references_what_exists() -> None:
    service = COMPOSE["services"]["relaybot"]
    assert (ROOT / service["build"] / "Dockerfile").is_file()
    assert "relaybot-data:/data" in service["volumes"]
    assert "relaybot-data" in COMPOSE["volumes"]
    mount = next(v for v in service["volumes"] if v.endswith(":/config:ro"))
    assert mount.startswith("./config:")
    assert "mkdir -p config && cp config.example.yaml config/config.yaml" in README
    # The example config's variables without a default are all given.
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", text)) | {"RELAY_BASE_URL"}  # a placeholder
    assert needed <= set(service["environment"])
    assert needed <= set(
        line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    settings = load_config(EXAMPLE, {**image_env(), **REQUIRED}, sections=SECTIONS)
    assert seconds(service["stop_grace_period"]) > settings.shutdown_grace_s
    cow = COMPOSE["services"]["chatgpt-on-wechat"]
    assert cow["image"].startswith("zhayujie/chatgpt-on-wechat")
    assert cow["profiles"] == ["wechat"]


def test_dockerignore_keeps_out_the_venv_but_not_what_the_image_copies() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "config.yaml" in ignored
    for name in ("pyproject.toml", "README.md", "core", "bots", "config.example.yaml"):
        assert name not in ignored


def test_the_readme_docker_lines_carry_every_variable() -> None:
    run = next(line for line in README.splitlines() if line.startswith("docker run "))
    block = README[README.index(run):].split("\n\n", 1)[0].replace("\\\n", " ")
    for name in ("RELAY_BASE_URL", "RELAY_API_KEY"):
        assert f"-e {name}=" in block
    assert "-v relaybot-data:/data" in block
    match = re.search(r"--stop-timeout (\d+)", block)
    assert match and float(match.group(1)) > 30
    assert "docker compose up -d" in README


def test_relaybot_reads_its_config_from_relaybot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text(
        f"relay:\n  base_url: http://relay.test\n  api_key: sk-abcdef123\n"
        f"storage:\n  path: {tmp_path / 'bot.db'}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RELAYBOT_CONFIG", str(config))
    assert main(["check-config"]) == 0
    assert f"configuration {config} is valid" in capsys.readouterr().out
    # Without an HTTP server there is nothing to ask: `relaybot health` says so, status 0.
    assert main(["health"]) == 0
