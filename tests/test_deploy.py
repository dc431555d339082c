"""What an IT department deploys from: .env.example lists every setting with valid values and
the real defaults, docker-compose.yml holds no password and puts Caddy in front, the image's
health check follows CITYBOT_HTTP_PORT, the lock files pin every dependency, and README's
commands are the ones CI runs."""

from __future__ import annotations

import http.server
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot.config import ENV_PREFIX, Settings, load_settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
# `NAME=value` or `# NAME=value` (a commented line shows the default).
_ENTRY = re.compile(r"^(#\s*)?(CITYBOT_[A-Z0-9_]+)=(.*)$")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
# Interpolation that stops compose when the variable is not set: ${NAME:?message}.
_REQUIRED = re.compile(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}")


def _settings() -> set[str]:
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def _env_example() -> list[tuple[bool, str, str]]:
    """(commented, name, value) of every CITYBOT_ entry of .env.example."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    found = [_ENTRY.match(line) for line in lines]
    return [(bool(m[1]), m[2], m[3]) for m in found if m]


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    names = [name for _, name, _ in _env_example()]
    assert len(names) == len(set(names)), "a variable listed twice in .env.example"
    missing = _settings() - set(names)
    unknown = set(names) - _settings()
    assert not missing, f"settings of bot/config.py missing from .env.example: {sorted(missing)}"
    assert not unknown, f".env.example lists variables bot/config.py lacks: {sorted(unknown)}"


def test_env_example_values_are_valid_and_show_the_defaults() -> None:
    entries = _env_example()
    # Every value written there, commented or not, is accepted together.
    load_settings({name: value for _, name, value in entries})
    for commented, name, value in entries:
        if not commented:
            continue
        field = name.removeprefix(ENV_PREFIX).lower()
        shown = getattr(load_settings({name: value}), field)
        default = Settings.model_fields[field].default
        assert shown == default, f"{name}: .env.example shows {value!r}, the default is {default!r}"


def test_env_example_holds_no_secret() -> None:
    values = {name: value for _, name, value in _env_example()}
    assert "replace-with" in values["CITYBOT_TELEGRAM_TOKEN"]
    for name in ("CITYBOT_WEBHOOK_SECRET", "CITYBOT_VIBER_TOKEN"):
        assert values[name] == "", name
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD=replace-with-" in text


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_has_no_password_and_caddy_in_front() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "bot", "caddy", "backup"}
    secrets = 0
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            # Only ever the interpolation that refuses to start without .env's value.
            if "PASSWORD" in key:
                assert _REQUIRED.fullmatch(str(value)), f"{key} = {value!r}"
                secrets += 1
            if key == "CITYBOT_DATABASE_URL":
                bare = _REQUIRED.sub("", str(value))
                assert bare == "postgresql+asyncpg://citybot:@db:5432/citybot", value
                secrets += 1
    # The server's, the bot's (in its URL) and the backup's.
    assert secrets == 3
    bot, caddy = services["bot"], services["caddy"]
    assert "ports" not in bot, "the bot is reached through Caddy only"
    assert bot["expose"] == ["${CITYBOT_HTTP_PORT:-8080}"]
    assert set(bot["environment"]) <= _settings()
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert caddy["environment"]["CITYBOT_HTTP_PORT"] == "${CITYBOT_HTTP_PORT:-8080}"
    assert caddy["environment"]["CITYBOT_PUBLIC_URL"].startswith("${CITYBOT_PUBLIC_URL:?")
    # The bot believes X-Forwarded-For from Caddy's fixed address only.
    address = caddy["networks"]["citybot"]["ipv4_address"]
    assert bot["environment"]["CITYBOT_TRUSTED_PROXIES"] == address
    subnet = _compose()["networks"]["citybot"]["ipam"]["config"][0]["subnet"]
    assert address.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    assert "{$CITYBOT_PUBLIC_URL} {" in caddyfile
    assert "reverse_proxy {$UPSTREAM_HOST:bot}:{$CITYBOT_HTTP_PORT:8080}" in caddyfile


def test_compose_backs_up_with_the_script() -> None:
    backup = _compose()["services"]["backup"]
    assert backup["entrypoint"] == ["sh", "/usr/local/bin/citybot-backup"]
    assert backup["command"] == ["daily"]
    assert "./deploy/backup.sh:/usr/local/bin/citybot-backup:ro" in backup["volumes"]
    assert backup["environment"]["PGHOST"] == "db"


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
        return


@pytest.fixture
def health_port() -> Iterator[int]:
    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def _healthcheck() -> list[str]:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(x for x in dockerfile.splitlines() if x.startswith("HEALTHCHECK"))
    exec_form = line.split(" CMD ", 1)[1].strip()
    command = yaml.safe_load(exec_form)  # a JSON array
    assert isinstance(command, list) and command[:2] == ["python", "-c"]
    return [sys.executable, *command[1:]]


def test_image_health_check_asks_the_configured_port(health_port: int) -> None:
    command = _healthcheck()
    env = {**os.environ, "CITYBOT_HTTP_PORT": str(health_port)}
    assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0
    # Nothing listens on the default port here (or something else does): the check follows the
    # variable, not a number written in the Dockerfile.
    env["CITYBOT_HTTP_PORT"] = str(free_port())
    assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode != 0


def test_image_installs_the_lock_then_the_project_alone() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --no-deps /wheels/*.whl" in dockerfile
    assert "pip wheel --no-cache-dir --no-deps" in dockerfile


def _lock(name: str) -> dict[str, Version]:
    """The versions a lock file pins for this interpreter (entries whose marker applies)."""
    pins: dict[str, Version] = {}
    hashed: set[str] = set()
    current: str | None = None
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        found = _PIN.match(line)
        if found:
            marker = found[3]
            current = canonicalize_name(found[1])
            if marker is None or Marker(marker).evaluate():
                pins[current] = Version(found[2])
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            hashed.add(current)
    assert set(pins) <= hashed, f"{name}: pins without a hash: {sorted(set(pins) - hashed)}"
    return pins


def _pyproject() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(item) for item in project["dependencies"]]
    dev = [Requirement(item) for item in project["optional-dependencies"]["dev"]]
    return runtime, dev


def _uncovered(requirements: list[Requirement], pins: dict[str, Version]) -> list[str]:
    """The requirements a lock does not pin, or pins at a version they do not allow."""
    uncovered = []
    for req in requirements:
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None or not req.specifier.contains(pinned, prereleases=True):
            uncovered.append(str(req))
    return uncovered


def test_lock_files_cover_every_dependency_of_pyproject() -> None:
    runtime, dev = _pyproject()
    locked, locked_dev = _lock("requirements.lock"), _lock("requirements-dev.lock")
    update = "update the lock: bash deploy/lock.sh"
    uncovered = _uncovered(runtime, locked)
    assert not uncovered, f"requirements.lock: {uncovered}; {update}"
    uncovered = _uncovered(runtime + dev, locked_dev)
    assert not uncovered, f"requirements-dev.lock: {uncovered}; {update}"
    # The image runs what the tests ran: the same version of every runtime package.
    differ = {name for name, version in locked.items() if locked_dev.get(name) != version}
    assert not differ, f"requirements.lock and requirements-dev.lock disagree on {differ}"


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        line
        for line in readme.splitlines()
        if line.startswith("python3 -m venv .venv") and "pytest" in line
    ]
    assert len(commands) == 1, commands
    return commands[0]


def test_ci_runs_the_readme_test_command() -> None:
    command = _readme_test_command()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci
    # Both install the lock, then the project without dependencies.
    words = shlex.split(command)
    assert "requirements-dev.lock" in words and "--no-deps" in words
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash deploy/lock.sh" in readme
