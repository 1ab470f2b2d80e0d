"""``archives``: months named by their keys, their bounds in UTC, and the chain of
an output's archives from its oldest month up to the month now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.archives import Chain, Month


@pytest.mark.parametrize(
    ("key", "month"),
    [
        ("2024-08", Month(2024, 8)),
        ("1970-01", Month(1970, 1)),
        ("9999-12", Month(9999, 12)),
        ("2024-12", Month(2024, 12)),
        ("1969-12", None),
        ("2024-00", None),
        ("2024-13", None),
        ("2024-8", None),
        ("24-08", None),
        ("2024-08-01", None),
        ("2024_08", None),
        (" 2024-08", None),
        ("２０２４-08", None),  # fullwidth digits are digits to Python, not to a key
        ("", None),
    ],
)
def test_a_key_names_one_month(key: str, month: Month | None) -> None:
    assert Month.parse(key) == month
    if month is not None:
        assert month.key == key


@pytest.mark.parametrize(
    ("when", "key"),
    [
        (datetime(2024, 8, 1, 0, 0, tzinfo=UTC), "2024-08"),
        (datetime(2024, 7, 31, 23, 59, 59, 999999, tzinfo=UTC), "2024-07"),
        # 08:30 on the 1st in Tokyo is still the 31st in UTC
        (datetime(2024, 8, 1, 8, 30, tzinfo=timezone(timedelta(hours=9))), "2024-07"),
        (datetime(2024, 12, 31, 23, 0), "2024-12"),  # naive: UTC
    ],
)
def test_the_month_of_a_time_is_taken_in_utc(when: datetime, key: str) -> None:
    assert Month.of(when).key == key


def test_a_month_runs_from_its_first_instant_to_the_next_months() -> None:
    december = Month(2024, 12)
    assert december.start == datetime(2024, 12, 1, tzinfo=UTC)
    assert december.end == datetime(2025, 1, 1, tzinfo=UTC)
    assert december.next() == Month(2025, 1) and Month(2025, 1).previous() == december
    assert Month(2024, 2).end - Month(2024, 2).start == timedelta(days=29)


def test_the_chain_runs_from_the_month_before_the_oldest_to_the_last_that_ended() -> None:
    chain = Chain(Month(2024, 5), Month(2024, 10))
    archived = [m for m in range(1, 13) if chain.has(Month(2024, m))]
    assert archived == [4, 5, 6, 7, 8, 9]
    assert chain.first == Month(2024, 4) and chain.newest() == Month(2024, 9)
    assert chain.before(Month(2024, 4)) is None and chain.before(Month(2024, 5)) == Month(2024, 4)
    assert chain.after(Month(2024, 9)) is None and chain.after(Month(2024, 8)) == Month(2024, 9)


def test_a_single_month_of_items_still_makes_two_linked_archives() -> None:
    chain = Chain(Month(2024, 12), Month(2025, 1))
    assert chain.first == Month(2024, 11) and chain.newest() == Month(2024, 12)
    assert chain.after(Month(2024, 11)) == Month(2024, 12)
    assert chain.before(Month(2024, 12)) == Month(2024, 11)


@pytest.mark.parametrize("oldest", [None, Month(2024, 10)])
def test_no_archive_without_items_from_a_month_that_ended(oldest: Month | None) -> None:
    chain = Chain(oldest, Month(2024, 10))
    assert chain.newest() is None and chain.first is None
    assert not any(chain.has(Month(2024, m)) for m in range(1, 13))
