"""A real HTTP/1.1 server on a local socket for tests, well-behaved or hostile.

``FeedServer`` listens on 127.0.0.1 (or another local address) on a random
port, serving from background threads, so both sync and asyncio tests can use
it. Every request is parsed and logged before it is answered::

    with FeedServer() as srv:
        srv.route("/a.xml", b"<rss/>", headers={"ETag": '"v1"'})
        srv.sequence("/b.xml", [Response(503, headers={"Retry-After": "5"}), Response(200, b"<rss/>")])
        srv.handle("/c.xml", lambda req: Response(200, (req.header("user-agent") or "").encode()))
        srv.conditional("/d.xml", b"<rss/>", etag='"v1"')
        srv.redirect("/old.xml", "/a.xml", status=301)
        srv.raw("/e.xml", drip(b"<rss/>", interval=0.5))
        ... fetch srv.url("/a.xml") ...
        assert srv.count("/a.xml") == 1
        assert srv.requests_to("/d.xml")[-1].header("If-None-Match") == '"v1"'

Routes match the request target exactly (query included) first, then its
path. Unknown paths get 404. A reply is a ``Response`` (status, body,
headers; Content-Length is added unless given or chunked) or a ``Raw``
handler that owns the socket and may write anything, stall, drip or reset;
the connection is closed when a raw handler returns. The fault helpers below
(``drip``, ``stall``, ``slow_headers``, ``send_raw``, ``short_body``,
``endless_body``, ``reset``) build the common ``Raw`` handlers.

``Blackhole`` is a listener whose TCP handshakes never complete (connect
timeouts); ``self_signed_cert`` and ``tls_context`` make an HTTPS server whose
certificate no client trusts. Request bodies are read only when the request
carries Content-Length.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.util
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from types import MappingProxyType, TracebackType
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024

HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]]


def _header_pairs(headers: HeaderInput | None) -> tuple[tuple[str, str], ...]:
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        return tuple(headers.items())
    return tuple(headers)


@dataclass(frozen=True)
class Request:
    """One request as the server received it; header names are lower-cased in ``headers``."""

    method: str
    target: str
    path: str
    query: str
    version: str
    headers: Mapping[str, str]
    raw_headers: tuple[tuple[str, str], ...]
    body: bytes
    client: tuple[str, int]
    received_at: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Response:
    """A complete response; ``delay`` seconds pass before anything is sent."""

    status: int = 200
    body: bytes = b""
    headers: HeaderInput = ()
    reason: str | None = None
    delay: float = 0.0

    def header_pairs(self) -> list[tuple[str, str]]:
        return list(_header_pairs(self.headers))

    def has_body(self) -> bool:
        return not (100 <= self.status < 200 or self.status in (204, 304))

    def encode(self, method: str = "GET") -> bytes:
        pairs = self.header_pairs()
        names = {name.lower() for name, _ in pairs}
        if self.has_body() and not names & {"content-length", "transfer-encoding"}:
            pairs.append(("Content-Length", str(len(self.body))))
        if "date" not in names:
            pairs.append(("Date", formatdate(usegmt=True)))
        head = status_line(self.status, self.reason) + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
        send_body = self.has_body() and method != "HEAD"
        return head.encode("latin-1") + (self.body if send_body else b"")

    def closes(self) -> bool:
        return any(k.lower() == "connection" and v.lower() == "close" for k, v in self.header_pairs())


def status_line(status: int, reason: str | None = None) -> str:
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\n"


class Conn:
    """The connection handed to a raw handler, after its request was read and logged."""

    def __init__(self, sock: socket.socket, request: Request, stopping: threading.Event) -> None:
        self.sock = sock
        self.request = request
        self._stopping = stopping

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_head(
        self, status: int = 200, headers: HeaderInput | None = None, reason: str | None = None
    ) -> None:
        pairs = _header_pairs(headers)
        head = status_line(status, reason) + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
        self.send(head.encode("latin-1"))

    def sleep(self, seconds: float) -> bool:
        """Wait; False when the server is stopping (the handler should return)."""
        return not self._stopping.wait(seconds)

    def reset(self) -> None:
        """Abort with a TCP RST instead of an orderly close."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


RawHandler = Callable[[Conn], None]


@dataclass(frozen=True)
class Raw:
    """A reply that takes over the socket."""

    handler: RawHandler


Reply = Response | Raw
Handler = Callable[[Request], Reply]


# --------------------------------------------------------------------------- fault helpers


def drip(
    body: bytes, interval: float, *, step: int = 1, headers: HeaderInput | None = None, status: int = 200
) -> Raw:
    """Send the head at once (with the true Content-Length), then ``step`` bytes every ``interval``."""

    def handler(conn: Conn) -> None:
        conn.send_head(status, [*_header_pairs(headers), ("Content-Length", str(len(body)))])
        for start in range(0, len(body), step):
            if not conn.sleep(interval):
                return
            conn.send(body[start : start + step])

    return Raw(handler)


def stall(seconds: float = 60.0) -> Raw:
    """Read the request, then send nothing for ``seconds``."""

    def handler(conn: Conn) -> None:
        conn.sleep(seconds)

    return Raw(handler)


def slow_headers(interval: float, count: int = 1000) -> Raw:
    """Send the status line, then one header line every ``interval``; never finish the head."""

    def handler(conn: Conn) -> None:
        conn.send(status_line(200).encode())
        for n in range(count):
            if not conn.sleep(interval):
                return
            conn.send(f"X-Slow-{n}: {n}\r\n".encode())

    return Raw(handler)


def send_raw(data: bytes, *, then_stall: float = 0.0) -> Raw:
    """Send ``data`` verbatim (e.g. a malformed status line), optionally wait, then close."""

    def handler(conn: Conn) -> None:
        conn.send(data)
        if then_stall:
            conn.sleep(then_stall)

    return Raw(handler)


def short_body(
    body: bytes, declared: int, *, headers: HeaderInput | None = None, stall_for: float = 0.0
) -> Raw:
    """Declare ``Content-Length: declared`` but send only ``body``, then stall and/or close."""
    head = Response(200, headers=[*_header_pairs(headers), ("Content-Length", str(declared))]).encode()
    return send_raw(head + body, then_stall=stall_for)


def endless_body(
    chunk: bytes = b"x" * 65536, *, chunked: bool = True, headers: HeaderInput | None = None
) -> Raw:
    """Stream ``chunk`` forever (chunked, or until close without a length) until the client leaves."""

    def handler(conn: Conn) -> None:
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Connection", "close")
        conn.send_head(200, [*_header_pairs(headers), framing])
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
        while not conn.stopping:
            conn.send(frame)

    return Raw(handler)


def reset(after: bytes = b"") -> Raw:
    """Send ``after`` (possibly a partial response), then abort the connection with RST."""

    def handler(conn: Conn) -> None:
        if after:
            conn.send(after)
            conn.sleep(0.05)
        conn.reset()

    return Raw(handler)


# --------------------------------------------------------------------------- routes


class _Sequence:
    def __init__(self, replies: Iterable[Reply | Handler], repeat_last: bool) -> None:
        self._replies = list(replies)
        if not self._replies:
            raise ValueError("a sequence needs at least one reply")
        self._repeat_last = repeat_last
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            index = self._next
            self._next += 1
        if index >= len(self._replies):
            if not self._repeat_last:
                return Response(404, b"sequence exhausted\n")
            index = len(self._replies) - 1
        reply = self._replies[index]
        return reply if isinstance(reply, Response | Raw) else reply(request)


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    weak = etag.removeprefix("W/")
    return "*" in tags or any(t.removeprefix("W/") == weak for t in tags)


def _not_modified_since(header: str, last_modified: str) -> bool:
    try:
        return parsedate_to_datetime(header) >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return header == last_modified


def conditional_handler(
    body: bytes,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    headers: HeaderInput | None = None,
) -> Handler:
    """Serve ``body`` with validators, answering 304 to a matching conditional GET."""
    validators = [(k, v) for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v is not None]
    pairs = [*_header_pairs(headers), *validators]

    def handler(request: Request) -> Response:
        inm, ims = request.header("If-None-Match"), request.header("If-Modified-Since")
        if etag is not None and inm is not None:
            fresh = _etag_matches(inm, etag)
        else:
            fresh = last_modified is not None and ims is not None and _not_modified_since(ims, last_modified)
        return Response(304, headers=validators) if fresh else Response(200, body, headers=pairs)

    return handler


# --------------------------------------------------------------------------- the server


class _BadRequest(Exception):
    pass


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def _fill(self) -> bool:
        data = self._sock.recv(65536)
        self._buffer += data
        return bool(data)

    def read_head(self) -> bytes | None:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEAD:
                raise _BadRequest("request head too large")
            if self._buffer and not self._buffer[:1].isupper():
                raise _BadRequest("invalid method")
            if not self._fill():
                return None
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        return head

    def read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise _BadRequest("request body truncated")
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def _parse_head(head: bytes) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _BadRequest(f"bad request line {lines[0]!r}")
    pairs: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise _BadRequest(f"bad header line {line!r}")
        pairs.append((name.strip(), value.strip()))
    return parts[0], parts[1], parts[2], tuple(pairs)


def _merge_headers(pairs: Iterable[tuple[str, str]]) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return MappingProxyType(merged)


class FeedServer:
    """A threaded HTTP/1.1 (or HTTPS) server on a local address and a random port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._ssl_context = ssl_context
        self._idle_timeout = idle_timeout
        self._routes: dict[str, Handler] = {}
        self._log: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._port: int | None = None
        self.errors: list[BaseException] = []
        self.handshake_failures = 0
        self.connections_accepted = 0

    # -- lifecycle

    def start(self) -> FeedServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._requested_port))
        listener.listen(128)
        listener.settimeout(0.05)
        self._listener = listener
        self._port = int(listener.getsockname()[1])
        self._spawn(self._accept_loop, listener)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def scheme(self) -> str:
        return "https" if self._ssl_context is not None else "http"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    # -- routes

    def handle(self, path: str, handler: Handler) -> None:
        """Answer requests for ``path`` with ``handler(request)``."""
        with self._lock:
            self._routes[path] = handler

    def reply(self, path: str, reply: Reply) -> None:
        self.handle(path, lambda _request: reply)

    def route(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        headers: HeaderInput | None = None,
        content_type: str | None = None,
    ) -> None:
        pairs = list(_header_pairs(headers))
        if content_type is not None:
            pairs.append(("Content-Type", content_type))
        self.reply(path, Response(status, body, pairs))

    def sequence(self, path: str, replies: Iterable[Reply | Handler], *, repeat_last: bool = True) -> None:
        """Answer successive requests with successive replies; then repeat the last (or 404)."""
        self.handle(path, _Sequence(replies, repeat_last))

    def raw(self, path: str, handler: RawHandler | Raw) -> None:
        self.reply(path, handler if isinstance(handler, Raw) else Raw(handler))

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.reply(path, Response(status, headers=[("Location", location)]))

    def conditional(
        self,
        path: str,
        body: bytes,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: HeaderInput | None = None,
    ) -> None:
        self.handle(path, conditional_handler(body, etag=etag, last_modified=last_modified, headers=headers))

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    # -- request log

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if path in (r.path, r.target)]

    def count(self, path: str | None = None) -> int:
        return len(self.requests if path is None else self.requests_to(path))

    def last(self, path: str) -> Request:
        found = self.requests_to(path)
        if not found:
            raise LookupError(f"no request for {path}")
        return found[-1]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.count(path) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- internals

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                sock, address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections_accepted += 1
            self._spawn(self._serve, sock, address)

    def _serve(self, sock: socket.socket, address: tuple[str, int]) -> None:
        sock.settimeout(self._idle_timeout)
        self._track(sock)
        conn_sock: socket.socket | None = None
        try:
            conn_sock = self._handshake(sock)
            if conn_sock is not None:
                self._serve_requests(conn_sock, (str(address[0]), int(address[1])))
        except OSError:
            pass
        except Exception as exc:
            with self._lock:
                self.errors.append(exc)
        finally:
            for open_sock in {sock, conn_sock or sock}:
                self._untrack(open_sock)
                with contextlib.suppress(OSError):
                    open_sock.close()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.discard(sock)

    def _handshake(self, sock: socket.socket) -> socket.socket | None:
        if self._ssl_context is None:
            return sock
        try:
            wrapped = self._ssl_context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            with self._lock:
                self.handshake_failures += 1
            return None
        self._track(wrapped)
        return wrapped

    def _serve_requests(self, sock: socket.socket, client: tuple[str, int]) -> None:
        reader = _Reader(sock)
        while not self._stopping.is_set():
            try:
                request = self._read_request(reader, client)
            except _BadRequest as exc:
                sock.sendall(Response(400, f"{exc}\n".encode(), [("Connection", "close")]).encode())
                return
            if request is None:
                return
            with self._lock:
                self._log.append(request)
            if not self._answer(sock, request):
                return

    def _read_request(self, reader: _Reader, client: tuple[str, int]) -> Request | None:
        head = reader.read_head()
        if head is None:
            return None
        method, target, version, pairs = _parse_head(head)
        headers = _merge_headers(pairs)
        length = headers.get("content-length", "0")
        body = reader.read_exactly(int(length)) if length.isdigit() else b""
        split = urlsplit(target)
        return Request(
            method=method,
            target=target,
            path=split.path or target,
            query=split.query,
            version=version,
            headers=headers,
            raw_headers=pairs,
            body=body,
            client=client,
            received_at=time.time(),
        )

    def _handler_for(self, request: Request) -> Handler | None:
        with self._lock:
            return self._routes.get(request.target) or self._routes.get(request.path)

    def _answer(self, sock: socket.socket, request: Request) -> bool:
        handler = self._handler_for(request)
        reply = handler(request) if handler is not None else Response(404, b"not found\n")
        if isinstance(reply, Raw):
            reply.handler(Conn(sock, request, self._stopping))
            return False
        if reply.delay and self._stopping.wait(reply.delay):
            return False
        sock.sendall(reply.encode(request.method))
        wants_close = (request.header("connection") or "").lower() == "close"
        return not (reply.closes() or wants_close or request.version == "HTTP/1.0")


# --------------------------------------------------------------------------- connect timeouts and TLS


class Blackhole:
    """A listener whose accept queue is full, so new TCP connects hang until they time out."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._fillers: list[socket.socket] = []

    def __enter__(self) -> Blackhole:
        self._listener.bind((self.host, 0))
        self._listener.listen(0)
        for _ in range(2):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                filler.connect(self._listener.getsockname())
            self._fillers.append(filler)
        time.sleep(0.05)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sock in [*self._fillers, self._listener]:
            sock.close()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


def tls_available() -> bool:
    return importlib.util.find_spec("cryptography") is not None or shutil.which("openssl") is not None


def _cert_with_cryptography(cert: Path, key: Path, host: str) -> None:
    x509 = importlib.import_module("cryptography.x509")
    hashes = importlib.import_module("cryptography.hazmat.primitives.hashes")
    serialization = importlib.import_module("cryptography.hazmat.primitives.serialization")
    ec = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
    oid = importlib.import_module("cryptography.x509.oid")
    ipaddress = importlib.import_module("ipaddress")
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _cert_with_openssl(cert: Path, key: Path, host: str) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=IP:{host}",
        ],
        check=True,
        capture_output=True,
    )


def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a self-signed certificate and key for the IP ``host``; return their paths."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if importlib.util.find_spec("cryptography") is not None:
        _cert_with_cryptography(cert, key, host)
    elif shutil.which("openssl") is not None:
        _cert_with_openssl(cert, key, host)
    else:
        raise RuntimeError("neither the cryptography package nor the openssl CLI is available")
    return cert, key


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


__all__ = [
    "Blackhole",
    "Conn",
    "FeedServer",
    "Raw",
    "Request",
    "Response",
    "conditional_handler",
    "drip",
    "endless_body",
    "reset",
    "self_signed_cert",
    "send_raw",
    "short_body",
    "slow_headers",
    "stall",
    "status_line",
    "tls_available",
    "tls_context",
]
