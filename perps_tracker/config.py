"""Layered settings: defaults < TOML file < environment < command-line flags.

Every setting is an `Option` with a dotted key (`http.read_timeout`), a type, a default
and, where it has one, an environment variable. `load_settings` returns the effective
values together with where each came from, so `perps-tracker config` can show it.

A config file looks like::

    db = "/var/lib/perps-tracker/history.db"

    [http]
    read_timeout = 30

    [venues.binance]
    url = "https://my-proxy.example:8443"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import click

from perps_tracker.dataset import DEFAULT_ROOT as DEFAULT_TICKS_ROOT
from perps_tracker.errors import ConfigError
from perps_tracker.exchanges import VENUES
from perps_tracker.storage import DEFAULT_DB

APP_NAME = "perps-tracker"
ENV_PREFIX = "PERPS_TRACKER_"
CONFIG_ENV = "PERPS_TRACKER_CONFIG"
LOCAL_CONFIG = "perps_tracker.toml"


def user_config_path() -> Path:
    """The per-user config file (`~/.config/perps-tracker/config.toml` on Linux)."""
    return Path(click.get_app_dir(APP_NAME)) / "config.toml"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _not_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _coin_list(value: list) -> str | None:
    bad = [c for c in value if not isinstance(c, str) or not c.strip() or "," in c]
    return f"must be a list of coin names, got {bad[0]!r}" if bad else None


def _coin_table(value: dict) -> str | None:
    bad = [k for k, v in value.items() if not isinstance(v, str) or not v.strip() or not str(k).strip()]
    return f"must map names to names, got {bad[0]!r}" if bad else None


def _url_check(schemes: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            return f"must look like {schemes[-1]}://host[:port], got {value!r}"
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            return f"has an invalid port: {value!r}"
        if parts.query or parts.fragment:
            return f"must hold only scheme, host, port and an optional path prefix, got {value!r}"
        return None

    return check


def _webhook_check(value: str) -> str | None:
    """An empty value means "not set"; otherwise an http(s) URL. The value is a secret: never echoed."""
    if value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an https:// webhook URL (value not shown: it is a secret)"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has an invalid port (value not shown: it is a secret)"
    return None


def mask_url(value: str) -> str:
    """A secret URL as `scheme://host/***`: the path and query, which carry the token, are hidden."""
    if not value:
        return ""
    parts = urlsplit(value)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}/***"


@dataclass(frozen=True)
class Option:
    """One setting: dotted key, type, default, environment variable and help.

    A `secret` setting's value is never shown: `config` masks it and errors leave it out.
    """

    key: str
    type: type
    default: Any
    help: str
    env: str | None = None
    check: Callable[[Any], str | None] | None = None
    secret: bool = False


WEBHOOK_KINDS = {"discord": "Discord", "slack": "Slack", "json": "generic JSON POST"}


def _options() -> dict[str, Option]:
    opts = [
        Option("db", str, DEFAULT_DB, "database: a file path or an SQLAlchemy URL",
               env="PERPS_TRACKER_DB", check=_not_empty),
        Option("http.connect_timeout", float, 5.0, "seconds to wait for a venue to accept a connection",
               env="PERPS_TRACKER_CONNECT_TIMEOUT", check=_positive),
        Option("http.read_timeout", float, 20.0, "seconds to wait for a venue's answer",
               env="PERPS_TRACKER_READ_TIMEOUT", check=_positive),
        Option("http.venue_timeout", float, 60.0, "seconds one venue may take in all before it is reported as failed",
               env="PERPS_TRACKER_VENUE_TIMEOUT", check=_positive),
        Option("http.retries", int, 3, "retries after a 429, a 5xx or a dropped connection",
               env="PERPS_TRACKER_RETRIES", check=_non_negative),
        Option("http.backoff", float, 0.5, "first retry delay in seconds, doubled each retry",
               env="PERPS_TRACKER_BACKOFF", check=_non_negative),
        Option("watchlist", list, ["BTC", "ETH", "SOL"], "coins shown under `snapshot` and backfilled by "
               "`backfill --coins` (comma-separated in the environment)", env="PERPS_TRACKER_WATCHLIST",
               check=_coin_list),
        Option("coins.aliases", dict, {}, "extra coin aliases: venue base (or `venue:base`) = coin"),
        Option("coins.sectors", dict, {}, "extra or overriding sectors: coin = sector"),
        Option("capture.root", str, DEFAULT_TICKS_ROOT, "the capture dataset's root: a directory, or a URI "
               "pyarrow opens (s3://bucket/prefix, gs://..., file://...)", env="PERPS_TRACKER_CAPTURE_ROOT",
               check=_not_empty),
    ]
    for kind, what in WEBHOOK_KINDS.items():
        opts.append(Option(f"webhooks.{kind}", str, "", f"{what} webhook URL for `alerts --notify` (secret)",
                           env=f"PERPS_TRACKER_{kind.upper()}_WEBHOOK", check=_webhook_check, secret=True))
    for venue in VENUES.values():  # the registry's static part: no venue module is imported
        prefix = venue.env_prefix()
        opts.append(Option(f"venues.{venue.id}.url", str, venue.base_url,
                           f"{venue.name} REST base URL", env=f"{prefix}_URL",
                           check=_url_check(("http", "https"))))
        if venue.ws_url:
            opts.append(Option(f"venues.{venue.id}.ws_url", str, venue.ws_url,
                               f"{venue.name} websocket base URL", env=f"{prefix}_WS_URL",
                               check=_url_check(("ws", "wss"))))
    return {o.key: o for o in opts}


OPTIONS: dict[str, Option] = _options()
KNOWN_ENV = {o.env for o in OPTIONS.values() if o.env} | {CONFIG_ENV}


@dataclass(frozen=True)
class Settings:
    """Effective settings: `values[key]` and `sources[key]` ("default", "file ...", "env ...", "flag ...")."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    config_file: Path | None = None
    searched: tuple[Path, ...] = field(default=())

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def db(self) -> str:
        return self.values["db"]

    @property
    def capture_root(self) -> str:
        return self.values["capture.root"]

    def venue_url(self, venue_id: str) -> str:
        return self.values[f"venues.{venue_id}.url"].rstrip("/")

    def venue_ws_url(self, venue_id: str) -> str:
        return self.values[f"venues.{venue_id}.ws_url"].rstrip("/")

    def webhook_urls(self) -> dict[str, str]:
        """Webhook kind → URL, for the kinds that are set (the URLs are secrets)."""
        return {kind: self.values[f"webhooks.{kind}"] for kind in WEBHOOK_KINDS if self.values[f"webhooks.{kind}"]}

    def shown(self, key: str) -> Any:
        """A value fit to print: secrets masked."""
        value = self.values[key]
        if isinstance(value, list):
            return ", ".join(value)
        if isinstance(value, dict):
            return ", ".join(f"{k} = {v}" for k, v in value.items()) or "(none)"
        return mask_url(value) if OPTIONS[key].secret else value


def _type_name(tp: type) -> str:
    return {float: "a number", int: "an integer", str: "a string", list: "a list", dict: "a table"}[tp]


def _coerce(option: Option, value: Any) -> Any:
    """Return `value` as the option's type, or raise ValueError describing the problem."""
    tp = option.type
    ok = (
        (tp is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
        or (tp is list and isinstance(value, list))
        or (tp is dict and isinstance(value, dict))
    )
    if not ok:
        got = "" if option.secret else f", got {value!r}"
        raise ValueError(f"must be {_type_name(tp)}{got}")
    value = tp(value)
    if tp is list:
        value = [v.strip().upper() if isinstance(v, str) else v for v in value]
    problem = option.check(value) if option.check else None
    if problem:
        raise ValueError(problem)
    return value


def _parse_env(option: Option, raw: str) -> Any:
    try:
        if option.type is dict:
            raise ValueError("can only be set in the config file")
        value: Any = (raw if option.type is str else [part for part in raw.split(",") if part.strip()]
                      if option.type is list else option.type(raw.strip()))
    except ValueError:
        raise ValueError(f"must be {_type_name(option.type)}, got {raw!r}") from None
    return _coerce(option, value)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and key not in OPTIONS:
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def _find_config_file(explicit: Path | None, env: Mapping[str, str]) -> tuple[Path | None, tuple[Path, ...]]:
    """Pick the config file: --config, else $PERPS_TRACKER_CONFIG, else ./perps_tracker.toml, else the user's."""
    if explicit is not None:
        return explicit, (explicit,)
    if env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV]).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV} points to {path}, which is not a file")
        return path, (path,)
    candidates = (Path(LOCAL_CONFIG), user_config_path())
    for path in candidates:
        if path.is_file():
            return path, candidates
    return None, candidates


def _read_file(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):  # imported here: most runs have no config file to parse
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    return _flatten(data)


def load_settings(
    config_path: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults, the config file, the environment and flags (later wins).

    `flags` maps option keys to values given on the command line; None values are ignored.
    """
    env = os.environ if env is None else env
    values = {key: o.default for key, o in OPTIONS.items()}
    sources = {key: "default" for key in OPTIONS}

    path, searched = _find_config_file(config_path, env)
    if path is not None:
        for key, value in _read_file(path).items():
            option = OPTIONS.get(key)
            if option is None:
                raise ConfigError(f"unknown key '{key}' in {path}")
            try:
                values[key] = _coerce(option, value)
            except ValueError as e:
                raise ConfigError(f"'{key}' in {path} {e}") from None
            sources[key] = f"file {path}"

    unknown = sorted(name for name in env if name.startswith(ENV_PREFIX) and name not in KNOWN_ENV)
    if unknown:
        raise ConfigError(f"unknown environment variable {unknown[0]} (see `perps-tracker config --help`)")
    for key, option in OPTIONS.items():
        raw = env.get(option.env) if option.env else None
        if raw is None or raw == "":
            continue
        try:
            values[key] = _parse_env(option, raw)
        except ValueError as e:
            raise ConfigError(f"{option.env} {e}") from None
        sources[key] = f"env {option.env}"

    for key, value in (flags or {}).items():
        if value is None:
            continue
        option = OPTIONS[key]
        try:
            values[key] = _coerce(option, value)
        except ValueError as e:
            raise ConfigError(f"--{key.split('.')[-1].replace('_', '-')} {e}") from None
        sources[key] = f"flag --{key.split('.')[-1].replace('_', '-')}"

    return Settings(values=values, sources=sources, config_file=path, searched=searched)
