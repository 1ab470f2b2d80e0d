"""Settings and the ``feeds/feeds.toml`` model: sources, aliases, poller, server and hub options, outputs.

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
from zoneinfo import ZoneInfo

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

from . import config_values as values
from .clock import Clock, utcnow
from .config_errors import describe_errors
from .errors import ConfigError, QueryError
from .fetch.model import FetchLimits
from .filters import PARAMS, parse_filter
from .identity import normalize_tag

DEFAULT_CONFIG = Path("feeds/feeds.toml")
DEFAULT_DB = "sqlite:///aggregator.db"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_RESERVED_SLUGS = {"all", "tag", "site"}
_SECTION = ConfigDict(extra="forbid")


Duration = Annotated[int, PlainValidator(values.duration)]
Flag = Annotated[bool, PlainValidator(values.flag)]
PositiveInt = Annotated[int, values.positive(int)]
PositiveFloat = Annotated[float, values.positive(float)]


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class SourceConfig:
    """One ``[[sources]]`` entry."""

    url: Annotated[str, PlainValidator(values.http_url)]
    kind: Annotated[str, PlainValidator(values.kind)] = "feed"
    title: Annotated[str, PlainValidator(lambda v: values.text(v).strip())] = ""
    tags: Annotated[tuple[str, ...], PlainValidator(values.tags)] = ()
    interval: Annotated[int | None, PlainValidator(values.optional_duration)] = None  # None: [poller]
    allow_private_networks: Annotated[bool | None, PlainValidator(values.optional_flag)] = None
    private: Flag = False  # its items show only in private outputs (README: private sources)


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
    lease_ttl: Duration = 300  # a poller's claim on a source (renewed while it lives) or the SQLite run lock
    parse_workers: Annotated[int | None, PlainValidator(values.workers)] = None  # None: one per CPU

    @property
    def fetch_limits(self) -> FetchLimits:
        """The limits of each fetch: the fields this table shares with ``FetchLimits``."""
        shared = {f.name for f in fields(FetchLimits)} & {f.name for f in fields(self)}
        values: dict[str, Any] = {name: getattr(self, name) for name in shared}
        return FetchLimits(**values, allow_private=self.allow_private_networks)


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class ServerConfig:
    """The ``[server]`` table."""

    timezone: Annotated[str | None, PlainValidator(values.timezone)] = None  # None: the local zone
    # PostgreSQL: a server process re-reads the data version at most this often (SQLite: every write at once).
    version_interval: Annotated[float, PlainValidator(values.version_interval)] = 1.0

    @property
    def zone(self) -> ZoneInfo | None:
        """The display zone (validated when the config was loaded); None: the server's local zone."""
        return ZoneInfo(self.timezone) if self.timezone else None


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class WebSubConfig:
    """The ``[websub]`` table: the built-in hub (``POST /websub``, ``aggregator push``)."""

    enabled: Flag = True  # off: no hub link, POST /websub answers 404, nothing is delivered
    default_lease: Duration = 10 * 86400  # when a subscriber asks for none
    min_lease: Duration = 3600
    max_lease: Duration = 30 * 86400
    timeout: PositiveFloat = 10.0  # per verification or delivery request, connect to last byte
    max_attempts: PositiveInt = 8  # failed deliveries in a row before a subscription is dropped
    retry_delay: Duration = 60  # first retry; doubled on each failure
    max_retry_delay: Duration = 6 * 3600
    claim_ttl: Duration = 120  # a worker's claim on a subscription while it verifies or delivers
    concurrency: PositiveInt = 8  # requests to subscribers at once
    allow_private_networks: Flag = False  # callbacks on loopback or private addresses

    @model_validator(mode="after")
    def _check_bounds(self) -> WebSubConfig:
        if not self.min_lease <= self.default_lease <= self.max_lease:
            raise ValueError("expected min_lease <= default_lease <= max_lease")
        if self.retry_delay > self.max_retry_delay:
            raise ValueError("expected retry_delay <= max_retry_delay")
        if self.claim_ttl <= self.timeout:
            raise ValueError("expected claim_ttl longer than timeout")
        return self


@pydantic_dataclasses.dataclass(frozen=True, config=_SECTION)
class OutputConfig:
    """One ``[[outputs]]`` entry: a named feed; its filter keys are gathered into ``filters``.

    A ``private`` output is served only with one of its tokens and shows the private sources' items too.
    """

    slug: str
    title: Annotated[str, PlainValidator(values.text)]
    description: Annotated[str, PlainValidator(values.text)] = ""
    private: Flag = False
    filters: dict[str, Any] = field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_filters(cls, entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        allowed = {"slug", "title", "description", "private", *PARAMS}
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
    aliases: Annotated[dict[str, str], PlainValidator(values.aliases)] = {}
    poller: PollerConfig = PollerConfig()
    server: ServerConfig = ServerConfig()
    websub: WebSubConfig = WebSubConfig()
    outputs: list[OutputConfig] = []


@dataclass(frozen=True)
class Config:
    path: Path | None
    sources: tuple[SourceConfig, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)  # folded alias -> folded canonical
    poller: PollerConfig = field(default_factory=PollerConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    websub: WebSubConfig = field(default_factory=WebSubConfig)
    outputs: tuple[OutputConfig, ...] = ()

    def normalize(self, tag: str) -> str:
        """A tag's stored name under this configuration's aliases."""
        return normalize_tag(tag, self.aliases)


_ALLOWED = {
    "": ConfigFile.model_fields,
    "sources": [f.name for f in fields(SourceConfig)],
    "poller": [f.name for f in fields(PollerConfig)],
    "server": [f.name for f in fields(ServerConfig)],
    "websub": [f.name for f in fields(WebSubConfig)],
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
        websub=document.websub,
        outputs=tuple(document.outputs),
    )


def _check_unique(where: str, section: str, key: str, values: list[str], message: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values, 1):
        if value in seen:
            raise ConfigError(f"{where}: [[{section}]] entry {index}: key {key!r}: {message.format(value)}")
        seen.add(value)
