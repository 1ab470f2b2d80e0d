"""Settings and the ``feeds/feeds.toml`` model: sources, aliases, poller and server options, outputs.

Loading validates everything up front and raises ``ConfigError`` naming the
file, the entry and the key, so a bad file never reaches the database.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError, QueryError
from .filters import parse_filter
from .identity import fold_aliases, normalize_tag

KINDS = ("site", "tag", "user", "feed")
DEFAULT_CONFIG = Path("feeds/feeds.toml")
DEFAULT_DB = "sqlite:///aggregator.db"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
FILTER_KEYS = ("tag", "any_tag", "not_tag", "site", "source", "q", "since", "until", "min_bookmarks", "limit")


@dataclass(frozen=True)
class SourceConfig:
    url: str
    kind: str = "feed"
    title: str = ""
    tags: tuple[str, ...] = ()
    interval: int | None = None  # seconds; None: the poller default
    allow_private_networks: bool | None = None


@dataclass(frozen=True)
class PollerConfig:
    interval: int = 1800
    min_interval: int = 300
    max_interval: int = 86400
    allow_private_networks: bool = False
    concurrency: int = 16
    per_host: int = 2
    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    max_items_per_feed: int = 1000
    run_deadline: float = 600.0


@dataclass(frozen=True)
class ServerConfig:
    timezone: str | None = None  # the zone dates are shown in on the HTML pages; None: the local zone

    @property
    def zone(self) -> ZoneInfo | None:
        """The display zone (validated when the config was loaded); None: the server's local zone."""
        return ZoneInfo(self.timezone) if self.timezone else None


@dataclass(frozen=True)
class OutputConfig:
    slug: str
    title: str
    description: str = ""
    filters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: Path | None
    sources: tuple[SourceConfig, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)  # folded alias -> folded canonical
    poller: PollerConfig = field(default_factory=PollerConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    outputs: tuple[OutputConfig, ...] = ()

    def normalize(self, tag: str) -> str:
        """A tag's stored name under this configuration's aliases."""
        return normalize_tag(tag, self.aliases)


def parse_duration(value: object) -> int:
    """``"30m"``, ``"2h"``, ``"1d"``, ``90`` (seconds) -> seconds.

    Raises:
        ValueError: not a duration.
    """
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f'not a duration: {value!r} (use e.g. 90, "30m", "2h", "1d")')
    if seconds <= 0 or seconds > 365 * 86400:
        raise ValueError(f"duration out of range: {value!r}")
    return int(seconds)


def config_path(cli_value: str | None) -> Path:
    """The config file: ``--config``, else ``AGGREGATOR_CONFIG``, else ``feeds/feeds.toml``."""
    return Path(cli_value or os.environ.get("AGGREGATOR_CONFIG") or DEFAULT_CONFIG)


def database_url(cli_value: str | None) -> str:
    """The database URL: ``--db``, else ``AGGREGATOR_DB``, else an SQLite file here."""
    return cli_value or os.environ.get("AGGREGATOR_DB") or DEFAULT_DB


def load_config(path: Path) -> Config:
    """Read and validate a feeds.toml.

    Raises:
        ConfigError: unreadable file, bad TOML, or an invalid entry (message names file, entry, key).
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path | None = None) -> Config:
    """Validate an already-decoded TOML document."""
    where = str(path) if path else "<config>"
    _check_keys(raw, {"sources", "aliases", "poller", "server", "outputs"}, where)
    aliases_raw = raw.get("aliases", {})
    if not isinstance(aliases_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in aliases_raw.items()
    ):
        raise ConfigError(f"{where}: [aliases]: every alias must map a string to a string")
    aliases = fold_aliases(aliases_raw)
    poller = _parse_poller(raw.get("poller", {}), where)
    sources = _parse_sources(raw.get("sources", []), where)
    outputs = _parse_outputs(raw.get("outputs", []), where)
    server = _parse_server(raw.get("server", {}), where)
    return Config(path=path, sources=sources, aliases=aliases, poller=poller, server=server, outputs=outputs)


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _parse_poller(table: object, where: str) -> PollerConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [poller] must be a table")
    defaults = PollerConfig()
    allowed = set(PollerConfig.__dataclass_fields__)
    _check_keys(table, allowed, f"{where}: [poller]")
    values: dict[str, Any] = {}
    for key, value in table.items():
        default = getattr(defaults, key)
        ctx = f"{where}: [poller] key {key!r}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{ctx}: expected true or false, got {value!r}")
            values[key] = value
        elif key.endswith("interval") or key == "run_deadline":
            try:
                values[key] = parse_duration(value)
            except ValueError as exc:
                raise ConfigError(f"{ctx}: {exc}") from exc
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            values[key] = type(default)(value)
        else:
            raise ConfigError(f"{ctx}: expected a positive number, got {value!r}")
    return PollerConfig(**{**defaults.__dict__, **values})


def _parse_server(table: object, where: str) -> ServerConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [server] must be a table")
    _check_keys(table, {"timezone"}, f"{where}: [server]")
    timezone = table.get("timezone")
    if timezone is None:
        return ServerConfig()
    ctx = f"{where}: [server] key 'timezone'"
    if not isinstance(timezone, str) or not timezone.strip():
        raise ConfigError(f'{ctx}: expected a time zone name such as "Asia/Tokyo", got {timezone!r}')
    try:
        ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f'{ctx}: unknown time zone {timezone!r} (e.g. "Asia/Tokyo", "UTC")') from exc
    return ServerConfig(timezone.strip())


def _parse_sources(entries: object, where: str) -> tuple[SourceConfig, ...]:
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: [[sources]] must be an array of tables")
    seen: set[str] = set()
    result = []
    for index, entry in enumerate(entries, 1):
        ctx = f"{where}: [[sources]] entry {index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{ctx}: must be a table")
        _check_keys(entry, {"url", "title", "kind", "tags", "interval", "allow_private_networks"}, ctx)
        url = entry.get("url")
        if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url.strip()):
            raise ConfigError(f"{ctx}: key 'url': expected an http(s) URL, got {url!r}")
        url = url.strip()
        if url in seen:
            raise ConfigError(f"{ctx}: key 'url': duplicate source {url}")
        seen.add(url)
        kind = entry.get("kind", "feed")
        if kind not in KINDS:
            raise ConfigError(f"{ctx} ({url}): key 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
        title = entry.get("title", "")
        if not isinstance(title, str):
            raise ConfigError(f"{ctx} ({url}): key 'title': expected a string")
        tags = entry.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise ConfigError(f"{ctx} ({url}): key 'tags': expected a list of non-empty strings")
        interval = None
        if "interval" in entry:
            try:
                interval = parse_duration(entry["interval"])
            except ValueError as exc:
                raise ConfigError(f"{ctx} ({url}): key 'interval': {exc}") from exc
        private = entry.get("allow_private_networks")
        if private is not None and not isinstance(private, bool):
            raise ConfigError(f"{ctx} ({url}): key 'allow_private_networks': expected true or false")
        result.append(SourceConfig(url, kind, title.strip(), tuple(tags), interval, private))
    return tuple(result)


def _parse_outputs(entries: object, where: str) -> tuple[OutputConfig, ...]:
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: [[outputs]] must be an array of tables")
    seen: set[str] = set()
    result = []
    for index, entry in enumerate(entries, 1):
        ctx = f"{where}: [[outputs]] entry {index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{ctx}: must be a table")
        _check_keys(entry, {"slug", "title", "description", *FILTER_KEYS}, ctx)
        slug = entry.get("slug")
        if not isinstance(slug, str) or not _SLUG.match(slug) or slug in {"all", "tag", "site"}:
            raise ConfigError(f"{ctx}: key 'slug': expected lowercase letters, digits and '-', got {slug!r}")
        if slug in seen:
            raise ConfigError(f"{ctx}: key 'slug': duplicate slug {slug!r}")
        seen.add(slug)
        title = entry.get("title", slug)
        description = entry.get("description", "")
        if not isinstance(title, str) or not isinstance(description, str):
            raise ConfigError(f"{ctx} ({slug}): keys 'title' and 'description' must be strings")
        filters = {k: v for k, v in entry.items() if k in FILTER_KEYS}
        try:
            parse_filter(filters, now=datetime.now(UTC))
        except (QueryError, TypeError) as exc:
            raise ConfigError(f"{ctx} ({slug}): {exc}") from exc
        result.append(OutputConfig(slug, title, description, filters))
    return tuple(result)
