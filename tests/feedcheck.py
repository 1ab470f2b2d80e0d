"""Independent checks on rendered feeds, shared by the tests.

``validate_atom`` validates against the RFC 4287 RELAX NG schema (plus the two
RFC rules the schema can only annotate), ``parse_back`` reads a feed with
feedparser and fails on anything it had to recover from, ``assert_safe_html``
and ``assert_safe_url`` judge markup and URLs the way a browser would read them.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import html5lib
from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
SCHEMA_PATH = Path(__file__).parent / "schema" / "atom.rng"
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "poster", "background", "data", "cite"})

# Browsers drop these from URLs before reading the scheme ("java\tscript:" is javascript:).
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@functools.cache
def _atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMA_PATH), _PARSER))


def _atom_rules(doc: Any) -> list[str]:
    """The RFC 4287 rules the schema carries only as Schematron annotations."""
    ns = {"atom": ATOM_NS}
    errors = []
    if doc.tag == f"{{{ATOM_NS}}}feed" and not doc.xpath("atom:author", namespaces=ns):
        for entry in doc.xpath(
            "atom:entry[not(atom:author) and not(atom:source/atom:author)]", namespaces=ns
        ):
            errors.append(f"line {entry.sourceline}: atom:entry without atom:author in a feed without one")
    entries = [doc] if doc.tag == f"{{{ATOM_NS}}}entry" else doc.xpath("atom:entry", namespaces=ns)
    for entry in entries:
        if not entry.xpath("atom:link[@rel='alternate' or not(@rel)] or atom:content", namespaces=ns):
            errors.append(f"line {entry.sourceline}: atom:entry without an alternate link or atom:content")
    return errors


def validate_atom(data: bytes) -> None:
    """Raise AssertionError unless ``data`` is a valid Atom 1.0 feed or entry document."""
    try:
        doc = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise AssertionError(f"not well-formed XML: {exc}") from exc
    schema = _atom_schema()
    if not schema.validate(doc):
        raise AssertionError("Atom RELAX NG validation failed:\n" + str(schema.error_log))
    errors = _atom_rules(doc)
    if errors:
        raise AssertionError("Atom rule violations:\n" + "\n".join(errors))


def parse_back(data: bytes) -> Any:
    """Parse ``data`` with feedparser; fail if it is not a clean (non-bozo) feed."""
    result = feedparser.parse(io.BytesIO(data))
    assert not result.bozo, f"feedparser: {result.get('bozo_exception')!r}"
    return result


def assert_safe_url(url: str, *, where: str = "url") -> None:
    """Fail if ``url`` has a scheme other than http, https or mailto."""
    cleaned = _URL_NOISE.sub("", url)
    scheme = urlsplit(cleaned).scheme.lower() if ":" in cleaned else ""
    assert not scheme or scheme in SAFE_SCHEMES, f"{where}: unsafe URL {url!r}"


def assert_safe_html(fragment: str, *, where: str = "html") -> None:
    """Parse ``fragment`` as a browser would (html5lib) and fail on anything that can run script."""
    root = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = element.tag.rsplit("}", 1)[-1].lower()
        assert name not in {"script", "iframe", "object", "embed", "base"}, (
            f"{where}: <{name}> in {fragment!r}"
        )
        for attribute, value in element.attrib.items():
            local = attribute.rsplit("}", 1)[-1].lower()
            assert not local.startswith("on"), f"{where}: {local}= on <{name}> in {fragment!r}"
            if local in URL_ATTRIBUTES or local == "srcset":
                for candidate in value.split(",") if local == "srcset" else [value]:
                    assert_safe_url(candidate.strip().split(" ")[0], where=f"{where} <{name} {local}>")
