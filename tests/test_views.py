"""``views``: the read models. A source's label is decided in one place, and ``SourceView``
carries every column of ``source`` (``aggregator sources --json`` prints them all)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from aggregator.models import Source, table_of
from aggregator.views import POLL_STATUSES, SourceView, is_poll_status, source_label

URL = "https://blog.example/feed.xml"
WHEN = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "feed_title", "label"),
    [
        ("Configured", "The feed's own", "Configured"),
        ("", "The feed's own", "The feed's own"),
        ("", None, URL),
        ("", "", URL),
    ],
)
def test_label_is_the_title_else_the_feeds_own_else_the_url(
    title: str, feed_title: str | None, label: str
) -> None:
    assert source_label(URL, title, feed_title) == label
    assert SourceView(id=1, url=URL, title=title, feed_title=feed_title).label == label


@pytest.mark.parametrize(("enabled", "removed", "next_poll"), [(True, False, WHEN), (False, True, None)])
def test_a_removed_source_has_no_next_poll(enabled: bool, removed: bool, next_poll: datetime | None) -> None:
    view = SourceView(id=1, url=URL, enabled=enabled, next_poll_at=WHEN)
    assert (view.removed, view.next_poll) == (removed, next_poll)


def test_source_view_has_every_column_of_source_in_order_then_the_item_count() -> None:
    columns = [c.name for c in table_of(Source).columns]
    assert [f.name for f in fields(SourceView)] == [*columns, "items"]


@pytest.mark.parametrize("value", [*POLL_STATUSES, "ok", None, ""])
def test_is_poll_status(value: str | None) -> None:
    assert is_poll_status(value) is (
        value in ("new", "updated", "unchanged", "not_modified", "error", "gone")
    )
