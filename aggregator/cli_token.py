"""``aggregator token``: the tokens of private outputs. ``create`` prints a new token once (with
a ready-to-paste feed URL), ``list`` shows ids, outputs and dates (never a token), ``revoke``
deletes one: the next request that presents it gets 404.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote

from .clock import utcnow
from .config import config_path, database_url, load_config
from .db import make_engine
from .errors import ConfigError
from .store.common import connect, transaction

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
EXIT_UNKNOWN = 2


def add_token_commands(sub: Any) -> None:
    """The ``token`` command and its subcommands, on the CLI's subparsers."""
    token = sub.add_parser("token", help="tokens of private outputs: create, list, revoke")
    commands = token.add_subparsers(dest="token_command", required=True)
    create = commands.add_parser("create", help="make a token for a private output (printed once)")
    create.add_argument("--output", required=True, metavar="SLUG", help="a private [[outputs]] slug")
    create.add_argument(
        "--base-url", default=DEFAULT_BASE_URL, help=f"where the server answers (default {DEFAULT_BASE_URL})"
    )
    create.set_defaults(func=cmd_create)
    listing = commands.add_parser("list", help="list tokens: id, output, created, last used")
    listing.set_defaults(func=cmd_list)
    revoke = commands.add_parser("revoke", help="revoke a token by id: it stops working at once")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_revoke)


def cmd_create(args: argparse.Namespace) -> int:
    """Raises: ConfigError: ``--output`` names no private output of the configuration."""
    from .store.tokens import create_token

    config = load_config(config_path(args.config))
    private = sorted(o.slug for o in config.outputs if o.private)
    if args.output not in private:
        known = ", ".join(private) or "none"
        raise ConfigError(f"{args.output!r} is not a private output (private outputs: {known})")
    with transaction(make_engine(database_url(args.db))) as conn:
        token_id, token = create_token(conn, args.output, utcnow())
    url = f"{args.base_url.rstrip('/')}/feeds/{args.output}.atom?token={quote(token, safe='')}"
    print(f"token {token_id} for output {args.output!r}, shown this once (only its hash is stored):")
    print(f"  {token}")
    print(f"feed URL: {url}")
    print("or send it as a header: Authorization: Bearer <token>")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .store.tokens import list_tokens

    with connect(make_engine(database_url(args.db))) as conn:
        tokens = list_tokens(conn)
    if not tokens:
        print("no tokens: `aggregator token create --output SLUG` makes one")
    for t in tokens:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        print(f"[{t.id}] {t.output}  created {t.created_at:%Y-%m-%d %H:%M}  last used {used}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from .store.tokens import revoke_token

    with transaction(make_engine(database_url(args.db))) as conn:
        revoked = revoke_token(conn, args.id)
    if not revoked:
        print(f"aggregator: no token {args.id}", file=sys.stderr)
        return EXIT_UNKNOWN
    print(f"token {args.id} revoked")
    return 0
