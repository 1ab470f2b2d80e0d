from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config import load_config, parse_duration
from aggregator.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configs_load() -> None:
    for name in ("feeds.toml", "demo.toml"):
        config = load_config(REPO / "feeds" / name)
        kinds = {s.kind for s in config.sources}
        assert {"site", "tag", "user", "feed"} <= kinds
        assert config.normalize("K8s") == "kubernetes"
        assert {o.slug for o in config.outputs} >= {"k8s-popular"}


def test_full_example(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[[sources]]
url = "https://b.hatena.ne.jp/entrylist?url=deeeet.com&mode=rss"
title = "deeeet.com on Hatena Bookmark"
kind = "site"
tags = []
interval = "30m"

[[sources]]
url = "https://b.hatena.ne.jp/q/kubernetes?target=tag&mode=rss"
kind = "tag"
tags = ["Kubernetes"]
allow_private_networks = true

[aliases]
K8s = "Kubernetes"

[poller]
allow_private_networks = false
interval = "1h"
total_timeout = 12

[[outputs]]
slug = "k8s-popular"
title = "Popular Kubernetes posts"
tag = ["kubernetes"]
min_bookmarks = 250
""",
        )
    )
    site, tag = config.sources
    assert (site.kind, site.interval, site.title) == ("site", 1800, "deeeet.com on Hatena Bookmark")
    assert (tag.kind, tag.tags, tag.interval, tag.allow_private_networks) == (
        "tag",
        ("Kubernetes",),
        None,
        True,
    )
    assert config.aliases == {"k8s": "kubernetes"}
    assert config.poller.interval == 3600 and config.poller.total_timeout == 12.0
    assert config.outputs[0].filters == {"tag": ["kubernetes"], "min_bookmarks": 250}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[[sources]]\nurl = "ftp://x"\n', ["entry 1", "'url'"]),
        ('[[sources]]\nurl = "https://a/"\nkind = "blog"\n', ["entry 1", "'kind'", "blog"]),
        (
            '[[sources]]\nurl = "https://a/"\n[[sources]]\nurl = "https://b/"\ninterval = "soon"\n',
            ["entry 2", "'interval'"],
        ),
        ('[[sources]]\nurl = "https://a/"\ntags = "k8s"\n', ["entry 1", "'tags'"]),
        ('[[sources]]\nurl = "https://a/"\nurl2 = 1\n', ["entry 1", "url2"]),
        ('[[sources]]\nurl = "https://a/"\n[[sources]]\nurl = "https://a/"\n', ["entry 2", "duplicate"]),
        ('[poller]\nallow_private_networks = "yes"\n', ["[poller]", "allow_private_networks"]),
        ("[poller]\nconcurrency = -1\n", ["[poller]", "concurrency"]),
        ('[[outputs]]\nslug = "../x"\n', ["[[outputs]] entry 1", "'slug'"]),
        ('[[outputs]]\nslug = "ok"\nlimit = "abc"\n', ["[[outputs]] entry 1", "limit"]),
        ("[aliases]\nk8s = 3\n", ["[aliases]"]),
        ("[[sources]\n", ["invalid TOML"]),
        ("unknown = 1\n", ["unknown key"]),
    ],
)
def test_bad_config_names_file_entry_and_key(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_bad_config_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[[sources]]\nurl = "https://a/"\nkind = "blog"\n')
    db = tmp_path / "x.db"
    assert main(["--config", str(path), "--db", f"sqlite:///{db}", "poll"]) == 2
    assert "kind" in capsys.readouterr().err
    assert not db.exists()


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "poll"]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400), (90, 90), ("45s", 45)]
)
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "-5m", 0, True, "5y"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(("value", "zone"), [("Asia/Tokyo", "Asia/Tokyo"), (" UTC ", "UTC")])
def test_server_timezone(tmp_path: Path, value: str, zone: str) -> None:
    config = load_config(write(tmp_path, f'[server]\ntimezone = "{value}"\n'))
    assert config.server.timezone == zone
    assert config.server.zone is not None and config.server.zone.key == zone


def test_server_timezone_defaults_to_the_local_zone(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).server.zone is None


@pytest.mark.parametrize("value", ['"Asia/Tokio"', '"../etc/passwd"', '""', "9"])
def test_bad_server_timezone_names_the_key(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[server]\ntimezone = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: [server] key 'timezone'" in str(caught.value)
    assert "Asia/Tokyo" in str(caught.value)


def test_unknown_server_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[server\]: unknown key 'tz'"):
        load_config(write(tmp_path, '[server]\ntz = "UTC"\n'))
