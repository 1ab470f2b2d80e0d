"""``query.syntax``: the tree a query reads as, precedence, and where each syntax error points."""

from __future__ import annotations

import pytest

from aggregator.errors import FilterError
from aggregator.query import MAX_DEPTH, MAX_LENGTH, And, Expr, Not, Or, Term, parse_query


def t(kind: str, value: str, position: int, text: str | None = None) -> Term:
    return Term(kind, value, position, text or (value if kind == "text" else f"{kind}:{value}"))  # type: ignore[arg-type]


TREES: list[tuple[str, Expr | None]] = [
    ("", None),
    ("   ", None),
    ("tag:kubernetes", t("tag", "kubernetes", 0)),
    ("#kubernetes", t("tag", "kubernetes", 0, "#kubernetes")),
    ("word", t("text", "word", 0)),
    ('"exact phrase"', t("text", "exact phrase", 0, '"exact phrase"')),
    ('intitle:"two words"', t("intitle", "two words", 0, 'intitle:"two words"')),
    ("日本語", t("text", "日本語", 0)),
    ("https://example.com/a", t("text", "https://example.com/a", 0)),
    ("12:30", t("text", "12:30", 0)),
    ("source:https://a.example/feed", t("source", "https://a.example/feed", 0)),
    ("TAG:Go", Term("tag", "Go", 0, "TAG:Go")),
    ("a b", And((t("text", "a", 0), t("text", "b", 2)))),
    ("a OR b", Or((t("text", "a", 0), t("text", "b", 5)))),
    ("a or b", And((t("text", "a", 0), t("text", "or", 2), t("text", "b", 5)))),
    # NOT binds tighter than AND, AND tighter than OR
    ("a b OR c", Or((And((t("text", "a", 0), t("text", "b", 2))), t("text", "c", 7)))),
    ("a OR b c", Or((t("text", "a", 0), And((t("text", "b", 5), t("text", "c", 7)))))),
    ("-a b", And((Not(t("text", "a", 1)), t("text", "b", 3)))),
    ("-(a OR b) c", And((Not(Or((t("text", "a", 2), t("text", "b", 7)))), t("text", "c", 10)))),
    ("(a OR b)(c)", And((Or((t("text", "a", 1), t("text", "b", 6))), t("text", "c", 9)))),
    ("--a", Not(Not(t("text", "a", 2)))),
    ("tag:a-b", t("tag", "a-b", 0)),
    ("OReo", t("text", "OReo", 0)),
]


@pytest.mark.parametrize(("query", "tree"), TREES, ids=[q or "empty" for q, _ in TREES])
def test_a_query_reads_as_its_tree(query: str, tree: Expr | None) -> None:
    assert parse_query(query) == tree


ERRORS = [
    ("tag:", 4, "expected a value after 'tag:'"),
    ("kubernetes  tag:", 16, "expected a value after 'tag:'"),
    ("#", 1, "expected a tag after '#'"),
    ("a OR", 4, "expected a term after 'OR'"),
    ("a OR OR b", 5, "expected a term after 'OR'"),
    ("OR a", 0, "expected a term before 'OR'"),
    ("(a OR b", 0, "missing ')'"),
    ("a (b", 2, "missing ')'"),
    ("a)", 1, "unbalanced ')'"),
    ("a ()", 2, "empty group"),
    ("- a", 0, "expected a term or a group after '-'"),
    ("a -", 2, "expected a term or a group after '-'"),
    ('"abc', 0, "missing closing '\"'"),
    ('a ""', 2, "empty phrase"),
    ("tags:go", 0, "unknown term 'tags:' (known: tag, site, source, user, bookmarks, date, intitle, author)"),
    ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), MAX_DEPTH, f"nested deeper than {MAX_DEPTH}"),
    ("-" * (MAX_DEPTH + 1) + "a", MAX_DEPTH, f"nested deeper than {MAX_DEPTH}"),
    ("a" * (MAX_LENGTH + 1), MAX_LENGTH, f"longer than {MAX_LENGTH} characters"),
]


@pytest.mark.parametrize(("query", "position", "message"), ERRORS, ids=[e[0][:20] for e in ERRORS])
def test_a_syntax_error_names_its_position(query: str, position: int, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_query(query)
    assert (caught.value.position, caught.value.reason) == (position, message)
    assert caught.value.param == "filter" and caught.value.query == query


def test_the_deepest_allowed_nesting_parses() -> None:
    query = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse_query(query) == t("text", "a", MAX_DEPTH)
    assert parse_query("a" * MAX_LENGTH) == t("text", "a" * MAX_LENGTH, 0)


def test_the_caret_sits_under_the_position_even_after_wide_characters() -> None:
    error = FilterError("日本 tag:", 8, "expected a value after 'tag:'")
    assert error.caret() == "日本 tag:\n" + " " * 9 + "^"  # two columns per Japanese character
