"""OPML in: DTDs and entities refused in any encoding, nested folders become tags; through the CLI too."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedserver import FeedServer

from aggregator import cli
from aggregator.db import make_engine
from aggregator.errors import ConfigError
from aggregator.opml import read_opml
from aggregator.store.slices import source_rows

NESTED = """<?xml version="1.0" encoding="{encoding}"?>
<opml version="2.0">
  <head><title>購読リスト</title></head>
  <body>
    <outline text="技術" title="技術">
      <outline text="インフラ" title="インフラ">
        <outline type="rss" text="deeeet" xmlUrl="https://deeeet.com/index.xml" category="golang"/>
      </outline>
      <outline type="rss" text="Go ブログ" xmlUrl="https://go.dev/blog/feed.atom"/>
    </outline>
    <outline type="rss" text="人気エントリー" xmlUrl="https://b.hatena.ne.jp/hotentry.rss"/>
  </body>
</opml>
"""
EXPECTED = {
    "https://deeeet.com/index.xml": ("deeeet", ("技術", "インフラ", "golang")),
    "https://go.dev/blog/feed.atom": ("Go ブログ", ("技術",)),
    "https://b.hatena.ne.jp/hotentry.rss": ("人気エントリー", ()),
}

LAUGHS = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
BILLION_LAUGHS = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE opml [<!ENTITY l0 "lol">{LAUGHS}]>
<opml version="2.0"><body>
  <outline text="&l9;" xmlUrl="https://example.org/feed.xml"/>
</body></opml>
"""
NESTED_ENTITIES_UTF16 = """<?xml version="1.0" encoding="UTF-16"?>
<!DOCTYPE opml [
  <!ENTITY a "aaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<opml version="2.0"><body>
  <outline text="&c;" title="&c;" xmlUrl="https://example.org/feed.xml"/>
</body></opml>
"""


def utf16_with_bom(text: str) -> bytes:
    data = text.encode("utf-16")  # native order, with its BOM
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
    return data


def external_entity(target: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE opml [<!ENTITY ext SYSTEM "{target}">]>
<opml version="2.0"><body>
  <outline text="&ext;" xmlUrl="https://example.org/feed.xml"/>
</body></opml>
""".encode()


@pytest.mark.parametrize(
    "data",
    [NESTED.format(encoding="UTF-8").encode("utf-8"), utf16_with_bom(NESTED.format(encoding="UTF-16"))],
    ids=["utf-8", "utf-16-bom"],
)
def test_nested_outlines_import(data: bytes) -> None:
    sources = read_opml(data, "subs.opml")
    assert {s.url: (s.title, s.tags) for s in sources} == EXPECTED
    assert {s.kind for s in sources} == {"feed"}


def test_utf16_nested_entities_are_refused() -> None:
    data = utf16_with_bom(NESTED_ENTITIES_UTF16)
    assert b"<!ENTITY" not in data.upper()  # what a byte-level check would have looked for
    with pytest.raises(ConfigError, match=r"subs\.opml: .*entity declarations are not allowed"):
        read_opml(data, "subs.opml")


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(ConfigError, match="entity declarations are not allowed"):
        read_opml(BILLION_LAUGHS.encode("utf-8"), "laughs.opml")


def test_external_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-leak")
    with pytest.raises(ConfigError, match="not allowed") as refused:
        read_opml(external_entity(secret.as_uri()), "ext.opml")
    assert "do-not-leak" not in str(refused.value)


def test_external_entity_over_http_is_never_fetched() -> None:
    with FeedServer() as srv:
        srv.route("/evil.ent", b"https://attacker.example/feed.xml")
        with pytest.raises(ConfigError, match="not allowed"):
            read_opml(external_entity(srv.url("/evil.ent")), "ext.opml")
        assert srv.count() == 0


def test_cli_refuses_entities_and_imports_nothing(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.opml"
    good.write_bytes(utf16_with_bom(NESTED.format(encoding="UTF-16")))
    assert cli.main(["--db", sqlite_url, "import-opml", str(good)]) == 0
    assert f"{len(EXPECTED)} added" in capsys.readouterr().out

    bad = tmp_path / "bad.opml"
    bad.write_bytes(utf16_with_bom(NESTED_ENTITIES_UTF16.replace("example.org", "example.net")))
    assert cli.main(["--db", sqlite_url, "import-opml", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "configuration error" in err and str(bad) in err and "entity declarations" in err
    assert "Traceback" not in err

    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            urls = {r.url for r in source_rows(conn)}
    finally:
        engine.dispose()
    assert urls == set(EXPECTED)
