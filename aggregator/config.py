"""Settings and the ``feeds/feeds.toml`` model: sources, aliases, poller and server options, outputs.

The sections are pydantic dataclasses; ``parse_config`` validates a whole document
up front and raises ``ConfigError`` naming the file, the entry and the key, so a bad
file never reaches the database. Reading the environment for paths is here too;
what a section means to the poller, the server or storage belongs to them.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import dataclasses as pydantic_dataclasses

from .clock import Clock, utcnow
from .config_errors import describe_errors
from .durations import parse_duration
from .errors import ConfigError, QueryError
from .fetch.model import FetchLimits
from .filters import PARAMS, parse_filter
from .identity import fold_aliases, normalize_tag

KINDS = ("site", "tag", "user", "feed")
DEFAULT_CONFIG = Path("feeds/feeds.toml")
DEFAULT_DB = "sqlite:///aggregator.db"
MAX_DURATION = 365 * 86400
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_RESERVED_SLUGS = {"all", "tag", "site"}
_SECTION = ConfigDict(extra="forbid")


def _duration(value: object) -> int:
    seconds = parse_duration(value)
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"duration out of range: {value!r}")
    return int(seconds)


def _optional_duration(value: object) -> int | None:
    return None if value is None else _duration(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _optional_flag(value: object) -> bool | None:
    return None if value is None else _flag(value)


def _positive(kind: type[int] | type[float]) -> PlainValidator:
    def check(value: object) -> int | float:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return kind(value)
        raise ValueError(f"expected a positive number, got {value!r}")

    return PlainValidator(check)


def _workers(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError(f"expected a number of processes (0 or 1: parse in the poller itself), got {value!r}")


def _http_url(value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value.strip()):
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value.strip()


def _kind(value: object) -> str:
    if value not in KINDS:
        raise ValueError(f"expected one of {', '.join(KINDS)}, got {value!r}")
    return str(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ValueError("expected a list of non-empty strings")
    return tuple(value)


def _aliases(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("every alias must map a string to a string")
    return fold_aliases(value)


def _timezone(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'expected a time zone name such as "Asia/Tokyo", got {value!r}')
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone {value!r} (e.g. "Asia/Tokyo", "UTC")') from None
    return value.strip()


def _version_interval(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 60:
        return float(value)
    raise ValueError(f"expected seconds from 0 to 60 (0: every request), got {value!r}")


Duration = Annotated[int, PlainValidator(_duration)]
Flag = Annotated[bool, PlainValidator(_flag)]
PositiveInt = Annotated[int, _positive(int)]
PositiveFloat = Annotated[float, _positive(float)]


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class SourceConfig:
    """One ``[[sources]]`` entry."""

    url: Annotated[str, PlainValidator(_http_url)]
    kind: Annotated[str, PlainValidator(_kind)] = "feed"
    title: Annotated[str, PlainValidator(lambda v: _text(v).strip())] = ""
    tags: Annotated[tuple[str, ...], PlainValidator(_tags)] = ()
    interval: Annotated[int | None, PlainValidator(_optional_duration)] = None  # seconds; None: [poller]
    allow_private_networks: Annotated[bool | None, PlainValidator(_optional_flag)] = None


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class PollerConfig:
    """The ``[poller]`` table."""

    interval: Duration = 1800
    min_interval: Duration = 300
    max_interval: Duration = 86400
    allow_private_networks: Flag = False
    concurrency: PositiveInt = 16
    per_host: PositiveInt = 2
    connect_timeout: PositiveFloat = 10.0
    total_timeout: PositiveFloat = 30.0
    max_bytes: PositiveInt = 15 * 1024 * 1024
    max_redirects: PositiveInt = 5
    max_items_per_feed: PositiveInt = 1000
    run_deadline: Duration = 600
    parse_workers: Annotated[int | None, PlainValidator(_workers)] = None  # None: one per CPU

    @property
    def fetch_limits(self) -> FetchLimits:
        """The limits of each fetch: the fields this table shares with ``FetchLimits``."""
        shared = {f.name for f in fields(FetchLimits)} & {f.name for f in fields(self)}
        values: dict[str, Any] = {name: getattr(self, name) for name in shared}
        return FetchLimits(**values, allow_private=self.allow_private_networks)


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class ServerConfig:
    """The ``[server]`` table."""

    timezone: Annotated[str | None, PlainValidator(_timezone)] = None  # None: the local zone
    # PostgreSQL: a server process re-reads the data version at most this often (SQLite: every write at once).
    version_interval: Annotated[float, PlainValidator(_version_interval)] = 1.0

    @property
    def zone(self) -> ZoneInfo | None:
        """The display zone (validated when the config was loaded); None: the server's local zone."""
        return ZoneInfo(self.timezone) if self.timezone else None


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class OutputConfig:
    """One ``[[outputs]]`` entry: a named feed; its filter keys are gathered into ``filters``."""

    slug: str
    title: Annotated[str, PlainValidator(_text)]
    description: Annotated[str, PlainValidator(_text)] = ""
    filters: dict[str, Any] = field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_filters(cls, entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        allowed = {"slug", "title", "description", *PARAMS}
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        own = {k: v for k, v in entry.items() if k not in PARAMS}
        return {"title": entry.get("slug"), **own, "filters": {k: v for k, v in entry.items() if k in PARAMS}}

    @field_validator("slug", mode="plain")
    @classmethod
    def _check_slug(cls, slug: object) -> str:
        if not isinstance(slug, str) or not _SLUG.match(slug) or slug in _RESERVED_SLUGS:
            raise ValueError(f"expected lowercase letters, digits and '-', got {slug!r}")
        return slug

    @field_validator("filters", mode="after")
    @classmethod
    def _check_filters(cls, filters: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if info.context is not None:
            try:
                parse_filter(filters, now=info.context["now"])
            except (QueryError, TypeError) as exc:
                raise ValueError(str(exc)) from None
        return filters


class ConfigFile(BaseModel):
    """A whole ``feeds.toml`` as written; ``Config`` is what the rest of the code reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceConfig] = []
    aliases: Annotated[dict[str, str], PlainValidator(_aliases)] = {}
    poller: PollerConfig = PollerConfig()
    server: ServerConfig = ServerConfig()
    outputs: list[OutputConfig] = []


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


_ALLOWED = {
    "": ConfigFile.model_fields,
    "sources": [f.name for f in fields(SourceConfig)],
    "poller": [f.name for f in fields(PollerConfig)],
    "server": [f.name for f in fields(ServerConfig)],
}


def config_path(cli_value: str | None) -> Path:
    """The config file: ``--config``, else ``AGGREGATOR_CONFIG``, else ``feeds/feeds.toml``."""
    return Path(cli_value or os.environ.get("AGGREGATOR_CONFIG") or DEFAULT_CONFIG)


def database_url(cli_value: str | None) -> str:
    """The database URL: ``--db``, else ``AGGREGATOR_DB``, else an SQLite file here."""
    return cli_value or os.environ.get("AGGREGATOR_DB") or DEFAULT_DB


def load_config(path: Path, *, clock: Clock = utcnow) -> Config:
    """Read and validate a feeds.toml; ``clock`` dates the outputs' ages while they are checked.

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
    return parse_config(raw, path, clock=clock)


def parse_config(raw: dict[str, Any], path: Path | None = None, *, clock: Clock = utcnow) -> Config:
    """Validate an already-decoded TOML document.

    Raises:
        ConfigError: an invalid entry (the message names the file, the entry and the key).
    """
    where = str(path) if path else "<config>"
    try:
        document = ConfigFile.model_validate(raw, context={"now": clock()})
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe_errors(exc, raw, _ALLOWED)}") from None
    _check_unique(where, "sources", "url", [s.url for s in document.sources], "duplicate source {}")
    _check_unique(where, "outputs", "slug", [o.slug for o in document.outputs], "duplicate slug {!r}")
    return Config(
        path=path,
        sources=tuple(document.sources),
        aliases=document.aliases,
        poller=document.poller,
        server=document.server,
        outputs=tuple(document.outputs),
    )


def _check_unique(where: str, section: str, key: str, values: list[str], message: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values, 1):
        if value in seen:
            raise ConfigError(f"{where}: [[{section}]] entry {index}: key {key!r}: {message.format(value)}")
        seen.add(value)
