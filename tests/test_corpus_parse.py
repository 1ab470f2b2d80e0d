"""parse_feed against the shared corpus of real and test-suite feeds (../shared/corpus).

The corpus is third-party data kept beside the repository; every test here
skips when it is absent, except under CI=true, where it fails (``conftest.require_corpus``).
Files are read as bytes and never modified.
"""

from __future__ import annotations

import functools
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from conftest import CORPUS, corpus_skipif, require_corpus

from aggregator.errors import ParseError
from aggregator.parse import ParsedEnclosure, ParsedEntry, ParsedFeed, parse_feed
from aggregator.sanitize import safe_url, strip_invalid_chars

REAL = CORPUS / "real"
NOW = datetime(2026, 7, 1, tzinfo=UTC)
MAX_ENTRIES = 1000
NOT_FEED_FILES = frozenset({"MANIFEST.tsv", "CATALOG.tsv", "README.md", ".gitattributes"})

# real/ files that must be refused, with the category; every other real/ file must parse.
EXPECTED_ERRORS = {
    "real/encodings/gzip-compressed-windows-1251-oren.ru.rss.gz": "parse",
    "real/misc/not-a-feed-html.rss": "not_a_feed",
    "real/misc/scriptingnews-rss-in-json-NOT-jsonfeed.json": "not_a_feed",
    "real/opml/netnewswire-subs.opml": "not_a_feed",
    "real/opml/netnewswire-subs-no-title-attrs.opml": "not_a_feed",
}

HATENA_NS = "{http://www.hatena.ne.jp/info/xmlns#}"
DC_NS = "{http://purl.org/dc/elements/1.1/}"
RSS10_NS = "{http://purl.org/rss/1.0/}"
JAPANESE_CHARS = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def corpus_present() -> None:
    """Skipped without ../shared locally; failed with a clear message under CI=true."""
    require_corpus()


def corpus_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name not in NOT_FEED_FILES:
            yield path


def groups() -> list[str]:
    """One test per second-level folder (feedparser/wellformed, real/atom, ...)."""
    if not CORPUS.is_dir():
        return ["corpus-missing"]
    names: list[str] = []
    for top in ("feedparser", "real"):
        if (CORPUS / top).is_dir():
            names.extend(f"{top}/{sub.name}" for sub in sorted((CORPUS / top).iterdir()) if sub.is_dir())
    return names


@functools.cache
def parse_outcome(path: Path) -> ParsedFeed | ParseError:
    """parse_feed's result for one corpus file, computed once per test session."""
    try:
        return parse_feed(path.read_bytes(), {}, f"https://feeds.example.net/{path.name}", now=NOW)
    except ParseError as exc:
        return exc


def parse_path(path: Path) -> ParsedFeed:
    outcome = parse_outcome(path)
    if isinstance(outcome, ParseError):
        raise outcome
    return outcome


def relative(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def invariant_problems(feed: ParsedFeed) -> list[str]:
    """What the rest of the pipeline relies on, checked on one parsed feed."""
    problems: list[str] = []
    if len(feed.entries) > MAX_ENTRIES or feed.total_entries < len(feed.entries):
        problems.append(f"entry counts {len(feed.entries)}/{feed.total_entries}")
    texts: list[str | None] = [feed.title, feed.link, *feed.warnings]
    for entry in feed.entries:
        if not isinstance(entry, ParsedEntry):
            problems.append(f"not a ParsedEntry: {entry!r}")
            continue
        texts += [
            entry.link,
            entry.guid,
            entry.title,
            entry.summary,
            entry.content,
            entry.author,
            entry.image,
        ]
        texts += entry.tags
        for url in (entry.link, entry.image, *(e.url for e in entry.enclosures)):
            if url is not None and safe_url(url) != url:
                problems.append(f"unsafe url {url!r}")
        for enclosure in entry.enclosures:
            assert isinstance(enclosure, ParsedEnclosure)
        for date in (entry.published, entry.updated):
            if date is not None and (date.utcoffset() is None or date.utcoffset() != UTC.utcoffset(None)):
                problems.append(f"date not UTC-aware: {date!r}")
            if date is not None and (date.year < 1970 or date > NOW.replace(year=NOW.year + 1)):
                problems.append(f"absurd date {date!r}")
        if len(entry.title) > 2000 or (entry.guid is not None and len(entry.guid) > 1000):
            problems.append("over-long title or guid")
        if len(entry.tags) > 100 or any(not tag or len(tag) > 100 for tag in entry.tags):
            problems.append(f"bad tags {entry.tags[:3]!r}")
        if not re.fullmatch("[0-9a-f]{64}", entry.raw_hash):
            problems.append(f"bad raw_hash {entry.raw_hash!r}")
        if entry.bookmark_count is not None and entry.bookmark_count < 0:
            problems.append("negative bookmark count")
    for text in texts:
        if text is not None and strip_invalid_chars(text) != text:
            problems.append(f"invalid characters in {text[:60]!r}")
    return problems


@pytest.mark.parametrize("group", groups())
def test_every_file_parses_or_raises_parse_error(group: str) -> None:
    folder = CORPUS / group
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    failures: list[str] = []
    checked = 0
    for path in corpus_files(folder):
        checked += 1
        name = relative(path)
        try:
            feed = parse_path(path)
        except ParseError as exc:
            if exc.category not in ("parse", "not_a_feed"):
                failures.append(f"{name}: unexpected category {exc.category}")
            elif name.startswith("real/") and EXPECTED_ERRORS.get(name) != exc.category:
                failures.append(f"{name}: refused ({exc.category}: {exc})")
            continue
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if name in EXPECTED_ERRORS:
            failures.append(f"{name}: parsed, expected ParseError({EXPECTED_ERRORS[name]})")
        failures.extend(f"{name}: {problem}" for problem in invariant_problems(feed))
    assert checked > 0
    assert not failures, "\n".join(failures)


def feedparser_entry_count(body: bytes) -> int:
    return len(feedparser.parse(io.BytesIO(body)).entries)


@corpus_skipif(not REAL.is_dir(), reason="real/ corpus folder missing")
def test_entry_counts_match_feedparser() -> None:
    mismatches: list[str] = []
    compared = 0
    for path in corpus_files(REAL):
        name = relative(path)
        if name in EXPECTED_ERRORS or path.suffix == ".json":
            continue
        body = path.read_bytes()
        expected = feedparser_entry_count(body)
        if expected == 0:
            continue
        compared += 1
        feed = parse_path(path)
        if len(feed.entries) != min(expected, MAX_ENTRIES) or feed.total_entries != expected:
            mismatches.append(
                f"{name}: {len(feed.entries)}/{feed.total_entries} entries, feedparser {expected}"
            )
    assert compared > 50
    assert not mismatches, "\n".join(mismatches)


@corpus_skipif(not (REAL / "jsonfeed").is_dir(), reason="real/jsonfeed missing")
def test_jsonfeed_item_counts() -> None:
    for path in corpus_files(REAL / "jsonfeed"):
        items = json.loads(path.read_bytes())["items"]
        feed = parse_path(path)
        assert feed.format in ("json10", "json11"), path.name
        assert feed.total_entries == len(items), path.name
        assert len(feed.entries) == sum(isinstance(item, dict) for item in items), path.name


CP932_FILE = REAL / "ja" / "shift_jis" / "cp932-y-moto.com.atom"


@corpus_skipif(not CP932_FILE.is_file(), reason="cp932 sample missing")
def test_cp932_declared_as_shift_jis_decodes_as_japanese() -> None:
    raw = CP932_FILE.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("shift_jis")
    reference = raw.decode("cp932")
    # "～" (U+FF5E via CP932, not U+301C) and "①" (NEC row 13) exist only in CP932.
    assert "年間走行距離報告～良いお年を！" in reference
    assert "\u3000①<u>体重編</u>" in reference

    feed = parse_path(CP932_FILE)
    assert feed.encoding == "cp932"
    assert feed.title == "BD-1で楽々通勤～BD-wonderful"
    titles = [entry.title for entry in feed.entries]
    assert "年間走行距離報告～良いお年を！" in titles
    assert titles[0] == "さらなる防寒対策"
    bodies = "".join(entry.content or "" for entry in feed.entries)
    assert "①<u>体重編</u>" in bodies
    assert "\ufffd" not in bodies


@pytest.mark.parametrize("folder", ["shift_jis", "euc-jp"])
def test_japanese_legacy_encodings_are_not_mojibake(folder: str) -> None:
    directory = REAL / "ja" / folder
    if not directory.is_dir():
        pytest.skip(f"{directory} missing")
    for path in corpus_files(directory):
        feed = parse_path(path)
        assert feed.entries, path.name
        assert feed.encoding in ("cp932", "euc_jp"), path.name
        japanese = [entry.title for entry in feed.entries if JAPANESE_CHARS.search(entry.title)]
        assert len(japanese) >= len(feed.entries) // 2, (path.name, [e.title for e in feed.entries[:3]])
        text = "".join(
            (entry.title + (entry.summary or "") + (entry.content or "")) for entry in feed.entries
        )
        assert "\ufffd" not in text, path.name


def hatena_expectations(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """(title, dc:subject tags, bookmark count) per item, read with ElementTree."""
    root = ET.fromstring(path.read_bytes())
    expected = []
    for item in root.iter(f"{RSS10_NS}item"):
        title = (item.findtext(f"{RSS10_NS}title") or "").strip()
        tags: list[str] = []
        for subject in item.iter(f"{DC_NS}subject"):
            text = (subject.text or "").strip()
            if text and text not in tags:
                tags.append(text)
        count = int((item.findtext(f"{HATENA_NS}bookmarkcount") or "-1").strip())
        expected.append((title, tuple(tags), count))
    return expected


@pytest.mark.parametrize(
    "name", ["hotentry-all-2018-feedburner.rdf", "hotentry-2016-poll1.rdf", "hotentry-2016-poll2.rdf"]
)
def test_hatena_hotentry(name: str) -> None:
    path = REAL / "ja" / "hatena-bookmark" / name
    if not path.is_file():
        pytest.skip(f"{path} missing")
    feed = parse_path(path)
    assert feed.is_hatena
    assert feed.format == "rss10"
    expected = hatena_expectations(path)
    assert len(feed.entries) == len(expected) == 30
    for entry, (title, tags, count) in zip(feed.entries, expected, strict=True):
        assert entry.title == title
        assert entry.tags == tags
        assert entry.bookmark_count == count
        assert isinstance(entry.bookmark_count, int)
        assert entry.content is None
        assert entry.published is not None
        assert entry.link is not None and entry.link.startswith("http")
    assert any(JAPANESE_CHARS.search(entry.title + "".join(entry.tags)) for entry in feed.entries)
    if name.startswith("hotentry-all"):
        assert sum(len(entry.tags) > 1 for entry in feed.entries) > 10
        assert any("\u3000" in entry.title for entry in feed.entries)


def test_hatena_fotolife_image() -> None:
    path = REAL / "ja" / "hatena-fotolife-2006.rdf"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    feed = parse_path(path)
    assert feed.is_hatena
    assert all(
        entry.image and entry.image.startswith("http://f.hatena.ne.jp/images/") for entry in feed.entries
    )


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("utf-16le-no-bom-no-decl.rss", "Test feed title 1"),
        ("utf-16be-no-bom-no-decl.rss", "Test feed title 1"),
        ("whitespace-before-xml-declaration.atom", None),
        ("no-xml-decl-latin1-uol.com.br.rss", None),
    ],
)
def test_encoding_edge_cases(name: str, title: str | None) -> None:
    path = REAL / "encodings" / name
    if not path.is_file():
        pytest.skip(f"{path} missing")
    feed = parse_path(path)
    if title is not None:
        assert [entry.title for entry in feed.entries] == [title]
    if name.startswith("whitespace"):
        assert feed.title == "Whitespace before XML declaration"
        assert feed.format == "atom10"
    if name.startswith("no-xml-decl"):
        assert len(feed.entries) == 15
        assert any(re.search("[ãçéêíóõú]", entry.title) for entry in feed.entries)
