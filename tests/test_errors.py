"""``errors``: the tree the docstring draws, and categories that are checked."""

import pytest

from aggregator.errors import (
    CATEGORIES,
    AggregatorError,
    ConfigError,
    FetchError,
    NotFoundError,
    ParseError,
    QueryError,
    SourceError,
    StorageError,
    is_category,
)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (ConfigError, AggregatorError),
        (SourceError, AggregatorError),
        (FetchError, SourceError),
        (ParseError, SourceError),
        (StorageError, AggregatorError),
        (NotFoundError, AggregatorError),
        (QueryError, AggregatorError),
    ],
)
def test_the_tree(child: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(child, parent)


def test_storage_errors_are_not_source_errors() -> None:
    assert not issubclass(StorageError, SourceError)


@pytest.mark.parametrize(("error", "category"), [(FetchError("x"), "connect"), (ParseError("x"), "parse")])
def test_default_categories(error: SourceError, category: str) -> None:
    assert error.category == category


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_is_accepted(category: str) -> None:
    assert FetchError("x", category=category).category == category
    assert is_category(category)


@pytest.mark.parametrize("bad", ["DNS", "timeouts", "", "http_3xx"])
def test_an_unknown_category_is_refused(bad: str) -> None:
    assert not is_category(bad)
    with pytest.raises(ValueError, match="unknown error category"):
        SourceError("x", category=bad)


def test_fetch_error_carries_status_and_retry_after() -> None:
    error = FetchError("busy", category="http_5xx", status=503, retry_after=120.0)
    assert (error.message, error.status, error.retry_after) == ("busy", 503, 120.0)


def test_query_error_names_its_parameter() -> None:
    error = QueryError("min_bookmarks", "not a whole number")
    assert (error.param, error.message, str(error)) == (
        "min_bookmarks",
        "not a whole number",
        "min_bookmarks: not a whole number",
    )
