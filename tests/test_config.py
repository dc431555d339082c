"""Configuration: valid values pass through; every bad value is one clear line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingsError, TelegramMode, load_settings, require_channels

TOKEN = "123456:" + "A" * 35


def test_defaults_and_parsing() -> None:
    settings = load_settings(
        {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_ADMIN_IDS": " 11, 22 ,", "UNRELATED": "x"}
    )
    assert settings.database_url == "sqlite+aiosqlite:///citybot.db"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.viber_api_url == "https://chatapi.viber.com/pa"
    assert settings.telegram_mode is TelegramMode.POLLING
    assert settings.admin_ids == (11, 22)
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.timezone == "Europe/Kyiv" and settings.language == "uk"
    require_channels(settings)


def test_tokens_are_not_in_the_repr() -> None:
    settings = load_settings({"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_WEBHOOK_SECRET": "s3cret"})
    assert TOKEN not in repr(settings) and "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "at least one channel"),
        ({"CITYBOT_TELEGRAM_TOKEN": "nonsense"}, "CITYBOT_TELEGRAM_TOKEN"),
        ({"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_HTTP_PORT": "eighty"}, "CITYBOT_HTTP_PORT"),
        ({"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_HTTP_PORT": "70000"}, "CITYBOT_HTTP_PORT"),
        (
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_TELEGRAM_MODE": "push"},
            "CITYBOT_TELEGRAM_MODE",
        ),
        (
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_TELEGRAM_MODE": "webhook"},
            "CITYBOT_PUBLIC_URL",
        ),
        (
            {
                "CITYBOT_TELEGRAM_TOKEN": TOKEN,
                "CITYBOT_TELEGRAM_MODE": "webhook",
                "CITYBOT_PUBLIC_URL": "https://bot.example.org",
            },
            "CITYBOT_WEBHOOK_SECRET: required when CITYBOT_TELEGRAM_MODE=webhook",
        ),
        (
            {
                "CITYBOT_TELEGRAM_TOKEN": TOKEN,
                "CITYBOT_TELEGRAM_MODE": "webhook",
                "CITYBOT_PUBLIC_URL": "https://bot.example.org",
                "CITYBOT_WEBHOOK_SECRET": " ",
            },
            "CITYBOT_WEBHOOK_SECRET: required when CITYBOT_TELEGRAM_MODE=webhook",
        ),
        (
            {
                "CITYBOT_TELEGRAM_TOKEN": TOKEN,
                "CITYBOT_TELEGRAM_MODE": "webhook",
                "CITYBOT_PUBLIC_URL": "https://bot.example.org",
                "CITYBOT_WEBHOOK_SECRET": "short-secret",
            },
            "CITYBOT_WEBHOOK_SECRET: at least 16 characters in webhook mode",
        ),
        ({"CITYBOT_VIBER_TOKEN": "abcdef123456"}, "CITYBOT_PUBLIC_URL"),
        (
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_PUBLIC_URL": "http://bot.example.org"},
            "CITYBOT_PUBLIC_URL: must use https",
        ),
        (
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_DATABASE_URL": "mysql://x"},
            "CITYBOT_DATABASE_URL",
        ),
        ({"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_ADMIN_IDS": "1,bob"}, "CITYBOT_ADMIN_IDS"),
        (
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_TIMEZONE": "Europe/Kiev-ish"},
            "CITYBOT_TIMEZONE",
        ),
        ({"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_LANGUAGE": "ru"}, "CITYBOT_LANGUAGE"),
        (
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_WEBHOOK_SECRET": "has space"},
            "CITYBOT_WEBHOOK_SECRET",
        ),
        (
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_OPERATOR_CHAT_ID": "group"},
            "CITYBOT_OPERATOR_CHAT_ID",
        ),
        (
            {
                "CITYBOT_VIBER_TOKEN": "abcdef123456",
                "CITYBOT_PUBLIC_URL": "https://x.org",
                "CITYBOT_VIBER_NAME": "N" * 29,
            },
            "CITYBOT_VIBER_NAME",
        ),
    ],
)
def test_bad_configuration_names_the_variable(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        require_channels(load_settings(environ))
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_empty_variables_mean_unset() -> None:
    settings = load_settings({"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_VIBER_TOKEN": ""})
    assert settings.viber_token is None and not settings.viber_enabled


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"CITYBOT_TELEGRAM_TOKEN={TOKEN}\nCITYBOT_HTTP_PORT=9001\n", encoding="utf-8"
    )
    settings = load_settings(None, env_file=str(env_file))
    assert settings.http_port == 9001


def _citybot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_configuration_error_is_one_line_exit_2(tmp_path: Path) -> None:
    result = _citybot(["run"], {"CITYBOT_TELEGRAM_TOKEN": "oops"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CITYBOT_TELEGRAM_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_webhook_mode_with_a_secret_and_polling_without_one_are_accepted() -> None:
    webhook = {"CITYBOT_TELEGRAM_MODE": "webhook", "CITYBOT_PUBLIC_URL": "https://bot.example.org"}
    require_channels(
        load_settings(
            {"CITYBOT_TELEGRAM_TOKEN": TOKEN, "CITYBOT_WEBHOOK_SECRET": "s3c_" * 4, **webhook}
        )
    )
    require_channels(load_settings({"CITYBOT_TELEGRAM_TOKEN": TOKEN}))


def test_cli_webhook_mode_without_a_secret_exits_2(tmp_path: Path) -> None:
    environ = {
        "CITYBOT_TELEGRAM_TOKEN": TOKEN,
        "CITYBOT_TELEGRAM_MODE": "webhook",
        "CITYBOT_PUBLIC_URL": "https://bot.example.org",
        "CITYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    }
    result = _citybot(["run"], environ, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CITYBOT_WEBHOOK_SECRET" in lines[0] and "Traceback" not in result.stderr
    # Refused before anything was done: no database was created.
    assert not (tmp_path / "bot.db").exists()


def test_cli_without_any_channel_exits_2(tmp_path: Path) -> None:
    result = _citybot(["run"], {}, tmp_path)
    assert result.returncode == 2
    assert "at least one channel" in result.stderr


def test_cli_version(tmp_path: Path) -> None:
    result = _citybot(["--version"], {}, tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("citybot ")
