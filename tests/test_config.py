from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config import load_config, parse_config
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

[[outputs]]
slug = "rising"
title = "Rising this week"
sort = "rising"
window = "7d"
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
    assert config.outputs[1].filters == {"sort": "rising", "window": "7d"}


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
        ("[poller]\ninterval = 0\n", ["[poller] key 'interval'", "out of range"]),
        (
            '[[sources]]\nurl = "https://a/"\ninterval = "400d"\n',
            ["entry 1 (https://a/): key 'interval'", "range"],
        ),
        ("[poller]\nbogus = 1\n", ["[poller]: unknown key 'bogus'", "concurrency"]),
        ('poller = "fast"\n', ["[poller] must be a table"]),
        ('sources = "https://a/"\n', ["[[sources]] must be an array of tables"]),
        ("sources = [1]\n", ["[[sources]] entry 1: must be a table"]),
        ('[[sources]]\ntitle = "no url"\n', ["[[sources]] entry 1: key 'url'"]),
        ('[[sources]]\nurl = "https://a/"\ntitle = 3\n', ["entry 1 (https://a/): key 'title'", "string"]),
        ('[[outputs]]\nslug = "ok"\nfilters = "x"\n', ["[[outputs]] entry 1: unknown key 'filters'"]),
        ('[[outputs]]\nslug = "ok"\ndescription = 1\n', ["[[outputs]] entry 1 (ok): key 'description'"]),
        (
            '[[outputs]]\nslug = "a"\n[[outputs]]\nslug = "a"\n',
            ["[[outputs]] entry 2: key 'slug'", "duplicate"],
        ),
        ('[[outputs]]\nslug = "all"\n', ["[[outputs]] entry 1: key 'slug'"]),
        ('[[outputs]]\nslug = "ok"\nsince = "soon"\n', ["[[outputs]] entry 1 (ok): since:"]),
        ('[[outputs]]\nslug = "ok"\nsort = "best"\n', ["[[outputs]] entry 1 (ok): sort:", "rising"]),
        ('[[outputs]]\nslug = "ok"\nwindow = "90d"\n', ["[[outputs]] entry 1 (ok): window:", "30d"]),
        ('[[outputs]]\nslug = "ok"\nwindow = 3600\n', ["[[outputs]] entry 1 (ok): window:"]),
        (
            '[[outputs]]\nslug = "k8s"\nfilter = "tag:kubernetes (tag:"\n',
            ["[[outputs]] entry 1 (k8s): filter: expected a value after 'tag:' (at character 20)"],
        ),
        (
            '[[outputs]]\nslug = "a"\n[[outputs]]\nslug = "k8s"\nfilter = "bookmarks:>=lots"\n',
            ["[[outputs]] entry 2 (k8s): filter: bookmarks: expected a whole number", "(at character 10)"],
        ),
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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[sources]]\nurl = "https://a/"\nkind = "blog"\n',
            "[[sources]] entry 1 (https://a/): key 'kind': expected one of site, tag, user, feed, got 'blog'",
        ),
        ("[poller]\nconcurrency = -1\n", "[poller] key 'concurrency': expected a positive number, got -1"),
        (
            '[poller]\nallow_private_networks = "yes"\n',
            "[poller] key 'allow_private_networks': expected true or false, got 'yes'",
        ),
        ("[aliases]\nk8s = 3\n", "[aliases]: every alias must map a string to a string"),
        (
            '[[sources]]\nurl = "https://a/"\nprivate = "yes"\n',
            "[[sources]] entry 1 (https://a/): key 'private': expected true or false, got 'yes'",
        ),
        (
            '[[outputs]]\nslug = "mine"\nprivate = 1\n',
            "[[outputs]] entry 1 (mine): key 'private': expected true or false, got 1",
        ),
        (
            "unknown = 1\n",
            "unknown key 'unknown' (allowed: aliases, outputs, poller, server, sources, websub)",
        ),
        (
            '[[sources]]\nurl = "https://a/"\n[[sources]]\nurl = "https://a/"\n',
            "[[sources]] entry 2: key 'url': duplicate source https://a/",
        ),
        (
            '[[outputs]]\nslug = "ok"\nlimit = "abc"\n',
            "[[outputs]] entry 1 (ok): limit: expected a whole number from 1 to 500, got 'abc'",
        ),
    ],
)
def test_bad_config_message_is_exact(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: {message}"


def test_poller_defaults_and_fetch_limits() -> None:
    poller = parse_config({"poller": {"total_timeout": 12, "allow_private_networks": True}}).poller
    assert (poller.interval, poller.concurrency, poller.total_timeout) == (1800, 16, 12.0)
    limits = poller.fetch_limits
    assert (limits.total_timeout, limits.connect_timeout, limits.max_bytes) == (12.0, 10.0, poller.max_bytes)
    assert (limits.max_redirects, limits.allow_private) == (poller.max_redirects, True)


def test_output_filters_are_gathered_and_title_defaults_to_slug() -> None:
    (output,) = parse_config({"outputs": [{"slug": "go", "tag": ["golang"], "since": "7d"}]}).outputs
    assert (output.slug, output.title, output.description) == ("go", "go", "")
    assert output.filters == {"tag": ["golang"], "since": "7d"}


def test_sources_and_outputs_are_public_unless_marked_private() -> None:
    config = parse_config(
        {
            "sources": [{"url": "https://a.example/"}, {"url": "https://b.example/?key=k", "private": True}],
            "outputs": [{"slug": "open"}, {"slug": "mine", "private": True, "tag": ["go"]}],
        }
    )
    assert [s.private for s in config.sources] == [False, True]
    assert [(o.slug, o.private, o.filters) for o in config.outputs] == [
        ("open", False, {}),
        ("mine", True, {"tag": ["go"]}),
    ]


def test_bad_config_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[[sources]]\nurl = "https://a/"\nkind = "blog"\n')
    db = tmp_path / "x.db"
    assert main(["--config", str(path), "--db", f"sqlite:///{db}", "poll"]) == 2
    assert "kind" in capsys.readouterr().err
    assert not db.exists()


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "poll"]) == 2
    assert "not found" in capsys.readouterr().err


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


def test_websub_settings_are_read_with_their_defaults(tmp_path: Path) -> None:
    hub = load_config(write(tmp_path, '[websub]\nmin_lease = "2h"\ntimeout = 5\nmax_attempts = 3\n')).websub
    assert (hub.min_lease, hub.timeout, hub.max_attempts) == (7200, 5.0, 3)
    assert (hub.enabled, hub.default_lease, hub.max_lease, hub.allow_private_networks) == (
        True,
        10 * 86400,
        30 * 86400,
        False,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('min_lease = "20d"', "[websub]: expected min_lease <= default_lease <= max_lease"),
        ('max_lease = "1h"', "[websub]: expected min_lease <= default_lease <= max_lease"),
        ('retry_delay = "1d"', "[websub]: expected retry_delay <= max_retry_delay"),
        ("timeout = 300", "[websub]: expected claim_ttl longer than timeout"),
        ("max_attempts = 0", "[websub] key 'max_attempts'"),
        ('enabled = "yes"', "[websub] key 'enabled'"),
        ("callback = 1", "[websub]: unknown key 'callback'"),
    ],
)
def test_bad_websub_settings_are_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, f"[websub]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
