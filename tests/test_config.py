"""Layered configuration: defaults < file < environment < flags, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perps_tracker.cli import cli
from perps_tracker.config import DEFAULT_DB, OPTIONS, load_settings, user_config_path
from perps_tracker.errors import ConfigError
from perps_tracker.exchanges import EXCHANGES


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_and_sources():
    s = load_settings(env={})
    assert s.db == DEFAULT_DB
    assert s["http.read_timeout"] == 20.0
    assert s.venue_url("binance") == "https://fapi.binance.com"
    assert s.venue_ws_url("okx") == "wss://ws.okx.com:8443"
    assert set(s.sources.values()) == {"default"}
    assert s.config_file is None


def test_every_venue_has_a_url_option_with_its_env_var():
    for venue in EXCHANGES:
        option = OPTIONS[f"venues.{venue}.url"]
        assert option.env == f"PERPS_TRACKER_{venue.upper()}_URL"


def test_layering_file_then_env_then_flag(tmp_path):
    cfg = write(tmp_path / "c.toml", 'db = "from-file.db"\n[http]\nread_timeout = 7\nretries = 1\n'
                                     '[venues.bybit]\nurl = "http://127.0.0.1:9000"\n')
    env = {"PERPS_TRACKER_DB": "from-env.db", "PERPS_TRACKER_RETRIES": "5"}
    s = load_settings(cfg, flags={"db": "from-flag.db"}, env=env)
    assert s.db == "from-flag.db" and s.sources["db"] == "flag --db"
    assert s["http.retries"] == 5 and s.sources["http.retries"] == "env PERPS_TRACKER_RETRIES"
    assert s["http.read_timeout"] == 7.0 and isinstance(s["http.read_timeout"], float)
    assert s.sources["http.read_timeout"] == f"file {cfg}"
    assert s.venue_url("bybit") == "http://127.0.0.1:9000"
    assert s.sources["http.connect_timeout"] == "default"


def test_flag_none_does_not_override(tmp_path):
    s = load_settings(flags={"db": None}, env={"PERPS_TRACKER_DB": "env.db"})
    assert s.db == "env.db"


def test_file_search_order(tmp_path, isolated):
    user = write(user_config_path(), 'db = "user.db"\n')
    assert load_settings(env={}).config_file == user
    local = write(isolated / "perps_tracker.toml", 'db = "local.db"\n')
    assert load_settings(env={}).db == "local.db"
    env_file = write(tmp_path / "env.toml", 'db = "envfile.db"\n')
    s = load_settings(env={"PERPS_TRACKER_CONFIG": str(env_file)})
    assert s.db == "envfile.db" and s.config_file == env_file
    explicit = write(tmp_path / "explicit.toml", 'db = "explicit.db"\n')
    assert load_settings(explicit, env={"PERPS_TRACKER_CONFIG": str(env_file)}).db == "explicit.db"
    assert local.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('dbb = "x"\n', "unknown key 'dbb' in {path}"),
        ('[http]\nread_timout = 3\n', "unknown key 'http.read_timout' in {path}"),
        ('[venues.kraken]\nurl = "https://x"\n', "unknown key 'venues.kraken.url' in {path}"),
        ('[http]\nread_timeout = "30"\n', "'http.read_timeout' in {path} must be a number, got '30'"),
        ('[http]\nretries = 2.5\n', "'http.retries' in {path} must be an integer, got 2.5"),
        ('[http]\nretries = true\n', "'http.retries' in {path} must be an integer, got True"),
        ('[http]\nread_timeout = 0\n', "'http.read_timeout' in {path} must be greater than 0"),
        ('db = 5\n', "'db' in {path} must be a string, got 5"),
        ('db = ""\n', "'db' in {path} must not be empty"),
        ('[venues.binance]\nurl = "fapi.binance.com"\n',
         "'venues.binance.url' in {path} must look like https://host[:port], got 'fapi.binance.com'"),
        ('[venues.binance]\nws_url = "https://x"\n',
         "'venues.binance.ws_url' in {path} must look like wss://host[:port], got 'https://x'"),
    ],
)
def test_file_errors_name_key_and_file(tmp_path, text, message):
    cfg = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert str(err.value) == message.format(path=cfg)


def test_invalid_toml(tmp_path):
    cfg = write(tmp_path / "bad.toml", "db = \n")
    with pytest.raises(ConfigError, match=r"^config file .*bad.toml is not valid TOML: "):
        load_settings(cfg, env={})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PERPS_TRACKER_READ_TIMEOUT": "abc"}, "PERPS_TRACKER_READ_TIMEOUT must be a number, got 'abc'"),
        ({"PERPS_TRACKER_RETRIES": "-1"}, "PERPS_TRACKER_RETRIES must be 0 or more"),
        ({"PERPS_TRACKER_OKX_URL": "ftp://x"}, "PERPS_TRACKER_OKX_URL must look like https://host[:port], got 'ftp://x'"),
        ({"PERPS_TRACKER_BINANCE_UR": "http://x"},
         "unknown environment variable PERPS_TRACKER_BINANCE_UR (see `perps-tracker config --help`)"),
        ({"PERPS_TRACKER_CONFIG": "/nonexistent/c.toml"},
         "PERPS_TRACKER_CONFIG points to /nonexistent/c.toml, which is not a file"),
    ],
)
def test_env_errors(env, message):
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    assert str(err.value) == message


def test_config_command_json_shows_sources(runner, tmp_path, monkeypatch):
    cfg = write(tmp_path / "c.toml", "[http]\nconnect_timeout = 2.5\n")
    monkeypatch.setenv("PERPS_TRACKER_DB", "postgresql+psycopg://me:secret@localhost/perps")
    result = runner.invoke(cli, ["config", "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["config_file"] == str(cfg)
    assert data["settings"]["http.connect_timeout"] == {"value": 2.5, "source": f"file {cfg}"}
    assert data["settings"]["db"]["source"] == "env PERPS_TRACKER_DB"
    assert "secret" not in result.output


def test_config_command_table(runner):
    result = runner.invoke(cli, ["config", "--db", "x.db"], terminal_width=200)
    assert result.exit_code == 0
    assert "flag --db" in result.output and "venues.dydx.url" in result.output


def test_cli_bad_config_is_one_line_error(runner, tmp_path):
    cfg = write(tmp_path / "bad.toml", "[http]\nretries = 'many'\n")
    result = runner.invoke(cli, ["stats", "--config", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: 'http.retries' in {cfg} must be an integer, got 'many'\n"


def test_cli_missing_config_file_is_usage_error(runner):
    result = runner.invoke(cli, ["config", "--config", "nope.toml"])
    assert result.exit_code == 2
    assert "'--config': File 'nope.toml' does not exist." in result.stderr
