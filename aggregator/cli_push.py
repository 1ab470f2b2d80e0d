"""``aggregator push``: the WebSub hub's worker on its own, once (for cron) or ``--loop``.

It verifies the intents ``POST /websub`` recorded and delivers each changed feed to its
subscribers (``aggregator.websub``); ``aggregator poll`` does the same after each run, so this
command is for a deployment that wants deliveries in their own process. Any number of them may
share a PostgreSQL database: each subscription is claimed by one at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import TYPE_CHECKING, Any

from .config import config_path, database_url, load_config
from .db import make_engine

if TYPE_CHECKING:
    from .websub import Hub


def add_push_command(sub: Any) -> None:
    """The ``push`` command, on the CLI's subparsers."""
    push = sub.add_parser("push", help="verify WebSub subscriptions and deliver changed feeds")
    push.add_argument("--loop", action="store_true", help="keep delivering until SIGTERM or Ctrl-C")
    push.add_argument("--interval", type=_interval, default=5.0, help="seconds between runs with --loop")
    push.set_defaults(func=cmd_push)


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of seconds") from None
    if not 0.05 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("from 0.05 to 3600 seconds")
    return seconds


def cmd_push(args: argparse.Namespace) -> int:
    from .websub import Hub

    config = load_config(config_path(args.config))
    hub = Hub(make_engine(database_url(args.db)), config)
    if not config.websub.enabled:
        print("the hub is off ([websub] enabled = false); nothing to do")
        return 0
    if args.loop:
        return asyncio.run(_loop(hub, args.interval))
    print(asyncio.run(hub.run_once()).summary(), flush=True)
    return 0


async def _loop(hub: Hub, interval: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"delivering every {interval:g}s; SIGTERM or Ctrl-C stops", flush=True)
    busy = await hub.run_loop(stop, interval=interval)
    print(f"stopped after {busy} runs that verified or delivered", flush=True)
    return 0
