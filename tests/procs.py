"""Processes and servers for the operations tests: the CLI as a subprocess, uvicorn in a thread.

``run_cli`` runs ``python -m aggregator.cli`` with a bounded timeout and
returns the finished process; ``start_cli`` starts it in the background.
``UvicornThread`` serves an ASGI app on a free loopback port from a daemon
thread and stops it on exit. ``raw_request`` writes exact bytes to a server
and reads its reply, for paths and headers an HTTP client would rewrite or
refuse to send.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "aggregator.cli", *args]


def cli_env() -> dict[str, str]:
    """The environment of a CLI subprocess: no inherited database or config, no proxies for loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(args: Sequence[str], *, cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args),
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(args: Sequence[str], *, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_command(*args),
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class UvicornThread:
    """A real uvicorn server for ``app`` on 127.0.0.1 and a free port, run from a daemon thread."""

    def __init__(self, app: Any, **options: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            access_log=False,
            lifespan="off",
            **options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def raw_request(port: int, data: bytes, *, timeout: float = 10.0, limit: int = 1 << 20) -> bytes:
    """Send ``data`` to 127.0.0.1:``port`` and read until the server closes (or ``limit`` bytes).

    A reset by the server (it refused the request) reads as whatever arrived before it.
    """
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return received
        deadline = time.monotonic() + timeout
        while len(received) < limit and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


def get_raw(port: int, target: str, *, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """A GET of ``target`` exactly as given, ``Connection: close``."""
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    return raw_request(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def status_of(reply: bytes) -> int | None:
    """The status code of a raw HTTP reply, or None when there was none."""
    line = reply.split(b"\r\n", 1)[0].split(b" ")
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return None
