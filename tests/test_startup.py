"""Lean start-up: ``aggregator poll`` loads only what polling needs.

A fresh interpreter runs ``cli.main([... "poll"])`` on an empty configuration and a new SQLite
file, then prints the modules it loaded that the poll path must not: the web framework, the
feed renderers, the pages, the API, the demo, OPML, and (on SQLite) the PostgreSQL dialects.
No timing is asserted; docs/benchmarks.md ("Start-up") has the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from procs import cli_env

CHECK = """
import json, sys
from aggregator import cli

status = cli.main(["--config", sys.argv[1], "--db", sys.argv[2], "poll"])
web = sorted(
    m for m in sys.modules
    if m.split(".")[0] in {"fastapi", "starlette", "feedgen", "jinja2", "uvicorn"}
    or m.startswith("aggregator.api")
    or m.startswith("aggregator.render")
    or m == "aggregator.pages"
)
other = sorted(
    m for m in sys.modules
    if m in {"aggregator.demo", "aggregator.opml", "http.server"}
    or m.startswith("sqlalchemy.dialects.postgresql")
)
print(json.dumps({"status": status, "web": web, "other": other}))
"""


def test_poll_imports_no_web_framework_renderer_or_pages(tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text("[poller]\nallow_private_networks = true\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(config), db],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    *printed, last = result.stdout.splitlines()
    assert printed and printed[-1].startswith("0 sources polled"), result.stdout
    report = json.loads(last)
    assert report["status"] == 0, result.stdout + result.stderr
    assert report["web"] == [], report["web"]
    assert report["other"] == [], report["other"]
