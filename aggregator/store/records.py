"""What storage is handed to write a source, whoever configured it (``feeds.toml``, OPML).

A structural type: ``config.SourceConfig`` fits it without storage importing the
configuration, which sits below the poller and the CLI that hand it in.
"""

from __future__ import annotations

from typing import Protocol


class SourceSpec(Protocol):
    """A source as the user asked for it: where, what kind, its tags and polling options."""

    @property
    def url(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def interval(self) -> int | None: ...  # seconds; None: the poller's default
    @property
    def allow_private_networks(self) -> bool | None: ...
    @property
    def private(self) -> bool: ...  # its items show only in private outputs
