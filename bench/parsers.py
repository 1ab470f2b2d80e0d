"""Feed parsers over the whole corpus: time, and what a candidate reads differently.

Default: every document of the corpus (``../shared/corpus``, MANIFEST.tsv) is parsed by
feedparser with the project's settings (an in-memory stream, ``sanitize_html=False``,
``resolve_relative_uris=False``) and by the candidate (fastfeedparser), each timed over
the whole corpus (best of ``--rounds``), and per document the candidate's reading is
compared with feedparser's: entry count, ids, links, titles, and whether each entry has
content (RSS 1.0 ``content:encoded`` too). A document is *equivalent* only when all agree.

``--dump FILE`` writes what ``parse.parse_feed`` (the code importable here) makes of every
document, as JSON lines: run it on two trees (``PYTHONPATH=<other tree>``) and ``--diff A
B`` lists the documents whose stored fields (titles, links, summary and content after
the sanitizer, dates, tags) differ.

    python bench/parsers.py                         # time + compare fastfeedparser
    python bench/parsers.py --dump /tmp/after.jsonl
    python bench/parsers.py --diff /tmp/before.jsonl /tmp/after.jsonl
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import load_note, print_table

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
RSS10_CONTENT = b"purl.org/rss/1.0/modules/content"


def documents(corpus: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every document the corpus manifest lists."""
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8") as manifest:
        next(manifest)
        for line in manifest:
            path = line.split("\t", 1)[0]
            if path:
                yield path, (corpus / path).read_bytes()


# ------------------------------------------------------------------------ what we store, before/after


def stored_fields(path: str, body: bytes) -> dict[str, Any]:
    from aggregator.errors import ParseError
    from aggregator.parse import parse_feed

    try:
        feed = parse_feed(body, {}, f"https://corpus.example/{path}", now=NOW)
    except ParseError as exc:
        return {"path": path, "error": exc.category}
    return {
        "path": path,
        "title": feed.title,
        "link": feed.link,
        "entries": [
            [e.link, e.guid, e.title, e.summary, e.content, e.author, str(e.published), list(e.tags), e.image]
            for e in feed.entries
        ],
    }


ENTRY_FIELDS = ("link", "guid", "title", "summary", "content", "author", "published", "tags", "image")


def dump(corpus: Path, out: Path) -> int:
    with out.open("w", encoding="utf-8") as sink:
        for path, body in documents(corpus):
            sink.write(json.dumps(stored_fields(path, body), ensure_ascii=False) + "\n")
    return 0


def diff(before: Path, after: Path, examples: int) -> int:
    old = {d["path"]: d for d in map(json.loads, before.open(encoding="utf-8"))}
    new = {d["path"]: d for d in map(json.loads, after.open(encoding="utf-8"))}
    fields: Counter[str] = Counter()
    differing: list[tuple[str, str, Any, Any]] = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path, {}), new.get(path, {})
        if a == b:
            continue
        for key in ("error", "title", "link"):
            if a.get(key) != b.get(key):
                fields[key] += 1
                differing.append((path, key, a.get(key), b.get(key)))
        ea, eb = a.get("entries") or [], b.get("entries") or []
        if len(ea) != len(eb):
            fields["entry count"] += 1
            differing.append((path, "entry count", len(ea), len(eb)))
        for x, y in zip(ea, eb, strict=False):
            for name, u, v in zip(ENTRY_FIELDS, x, y, strict=True):
                if u != v:
                    fields[name] += 1
                    differing.append((path, name, u, v))
    docs = len({d[0] for d in differing})
    print(f"{len(old)} documents before, {len(new)} after; {docs} differ; field differences: {dict(fields)}")
    for path, name, u, v in differing[:examples]:
        print(f"--- {path} [{name}]\n  before: {str(u)[:600]!r}\n  after:  {str(v)[:600]!r}")
    return 0


# ------------------------------------------------------------------------ feedparser vs the candidate


def with_feedparser(body: bytes) -> Any:
    import feedparser

    return feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)


def with_fastfeedparser(body: bytes) -> Any:
    import fastfeedparser

    return fastfeedparser.parse(body)


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""


def reading(result: Any) -> list[tuple[str, str, str, bool]]:
    """(id, link, title, has content) per entry, as either parser returns them."""
    entries = result.get("entries") or [] if result is not None else []
    out = []
    for e in entries:
        content = e.get("content") or []
        has = any(isinstance(c, dict) and _text(c.get("value")) for c in content)
        out.append((_text(e.get("id")), _text(e.get("link")), _text(e.get("title")), has))
    return out


def differences(reference: Any, candidate: Any) -> list[str]:
    """What the candidate reads differently from feedparser: empty when equivalent."""
    ref, cand = reading(reference), reading(candidate)
    if len(ref) != len(cand):
        return ["entry count"]
    found = []
    for name, index in (("ids", 0), ("links", 1), ("titles", 2), ("content presence", 3)):
        if any(r[index] != c[index] for r, c in zip(ref, cand, strict=True)):
            found.append(name)
    return found


def safely(parse: Callable[[bytes], Any], body: bytes) -> Any:
    try:
        return parse(body)
    except Exception:
        return None


def timed(parse: Callable[[bytes], Any], bodies: Sequence[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for body in bodies:
            safely(parse, body)
        best = min(best, time.perf_counter() - started)
    return best


def compare(corpus: Path, rounds: int, examples: int) -> int:
    docs = list(documents(corpus))
    bodies = [body for _, body in docs]
    fp_s = timed(with_feedparser, bodies, rounds)
    ffp_s = timed(with_fastfeedparser, bodies, rounds)
    kinds: Counter[str] = Counter()
    listed: list[tuple[str, list[str], int, int]] = []
    equivalent = rss10_content = rss10_lost = 0
    for path, body in docs:
        ref, cand = with_feedparser(body), safely(with_fastfeedparser, body)
        found = ["candidate raised"] if cand is None else differences(ref, cand)
        kinds.update(found)
        if RSS10_CONTENT in body and b"rdf:RDF" in body:
            rss10_content += 1
            rss10_lost += "content presence" in found or "candidate raised" in found
        if found:
            listed.append((path, found, len(reading(ref)), len(reading(cand))))
        else:
            equivalent += 1
    print_table(
        ["parser", "corpus s", "docs/s", "vs feedparser"],
        [
            ["feedparser (our settings)", fp_s, len(docs) / fp_s, 1.0],
            ["fastfeedparser", ffp_s, len(docs) / ffp_s, fp_s / ffp_s],
        ],
    )
    print(f"\n{len(docs)} documents; equivalent to feedparser: {equivalent} ({equivalent / len(docs):.1%})")
    print(f"differences (documents): {dict(kinds.most_common())}")
    print(f"RSS 1.0 documents with content:encoded: {rss10_content}, content lost or unread: {rss10_lost}")
    for path, found, n_ref, n_cand in listed[:examples]:
        print(f"  {path}: {', '.join(found)} (entries {n_ref} vs {n_cand})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"the corpus (default {CORPUS})")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds; the best is kept (default 3)")
    parser.add_argument("--examples", type=int, default=20, help="differences listed (default 20)")
    parser.add_argument("--dump", type=Path, help="write what parse_feed stores of each document")
    parser.add_argument("--diff", type=Path, nargs=2, metavar=("BEFORE", "AFTER"), help="compare two dumps")
    args = parser.parse_args(argv)
    if args.diff:
        return diff(*args.diff, args.examples)
    if not (args.corpus / "MANIFEST.tsv").is_file():
        parser.error(f"no corpus at {args.corpus}")
    if args.dump:
        return dump(args.corpus, args.dump)
    code = compare(args.corpus, max(1, args.rounds), args.examples)
    print(load_note(), file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
