"""``aggregator import-opml`` / ``export-opml``: subscriptions go in, come out the same, and a
file that cannot be read is a message, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator import cli
from aggregator.opml import read_opml

OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="Tech">
    <outline text="deeeet" title="deeeet" type="rss" xmlUrl="https://deeeet.com/index.xml"/>
    <outline text="k8s" title="k8s" type="rss" xmlUrl="https://b.hatena.ne.jp/q/kubernetes?mode=rss"/>
  </outline>
</body></opml>
"""


def test_what_is_imported_is_exported(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    subs = tmp_path / "subs.opml"
    subs.write_bytes(OPML)
    assert cli.main(["--db", sqlite_url, "import-opml", str(subs)]) == 0
    assert "2 subscriptions" in capsys.readouterr().out
    out = tmp_path / "out.opml"
    assert cli.main(["--db", sqlite_url, "export-opml", "-o", str(out)]) == 0
    exported = {s.url: s for s in read_opml(out.read_bytes(), str(out))}
    assert set(exported) == {"https://deeeet.com/index.xml", "https://b.hatena.ne.jp/q/kubernetes?mode=rss"}
    assert exported["https://deeeet.com/index.xml"].tags == ("Tech",)
    assert cli.main(["--db", sqlite_url, "import-opml", str(subs)]) == 0
    assert "0 added, 2 known" in capsys.readouterr().out


def test_an_unreadable_file_is_a_message(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", sqlite_url, "import-opml", str(tmp_path / "missing.opml")]) == 2
    assert "cannot read" in capsys.readouterr().err
