"""The attacks of issue 12 against a real `rag serve` with keys (default limits) on 127.0.0.1: what
was sent, how much, what the server answered, its RSS before and after, and whether keyed clients
were still served. Run: `.venv/bin/python -m bench.attacks` (bounded: at most 515 sockets, 300 MB)."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from bench.common import rag_server, rss_mib, save, scratch_env, table

KEY, ADMIN = "bench-key-0123456789abcdef", "bench-admin-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {KEY}"}
MB = 1_000_000


def connect(url: str, timeout: float = 10) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def status_of(sock: socket.socket) -> int:
    head = b""
    try:
        while b"\r\n" not in head and (chunk := sock.recv(4096)):
            head += chunk
    except OSError:
        return 0
    return int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0


def big_body(url: str, path: str, headers: str, total: int, chunked: bool = False) -> dict[str, Any]:
    """POST `total` bytes to `path`, 1 MB at a time, until the server answers: its status, the MB
    sent before it answered, the seconds it took."""
    started, sent = time.monotonic(), 0
    with connect(url, timeout=30) as sock:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}{length}\r\n\r\n".encode())
        block = b" " * MB
        sock.setblocking(False)
        try:
            while sent < total:
                try:
                    if sock.recv(1, socket.MSG_PEEK):
                        break  # the server answered: stop sending
                except BlockingIOError:
                    pass
                sock.setblocking(True)
                sock.sendall(b"%x\r\n%s\r\n" % (MB, block) if chunked else block)
                sock.setblocking(False)
                sent += MB
        except OSError:
            pass  # the server closed the connection
        sock.setblocking(True)
        sock.settimeout(60)
        status = status_of(sock)
        return {"status": status, "sent_mb": sent // MB, "seconds": round(time.monotonic() - started, 2)}


def still_served(url: str) -> str:
    """Whether /healthz and a keyed /v1/models answer now."""
    try:
        codes = (
            httpx.get(f"{url}/healthz", timeout=10).status_code,
            httpx.get(f"{url}/v1/models", headers=BEARER, timeout=10).status_code,
        )
    except httpx.HTTPError as exc:
        return f"no ({exc.__class__.__name__})"
    return "yes" if codes == (200, 200) else f"no {codes}"


def login_cookie(url: str, address: str) -> str:
    response = httpx.post(
        f"{url}/ui/login", data={"username": "me", "password": KEY}, headers={"X-Forwarded-For": address}
    )
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


def streams(url: str, count: int, address: str, cookie: str = "") -> dict[str, Any]:
    """Open `count` heartbeats from `address`, keep them open while keyed clients are tried."""
    socks, statuses = [], Counter[int]()
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    try:
        for i in range(count):
            sock = connect(url)
            request = (
                f"GET /ui/gradio_api/heartbeat/a{i} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {address}\r\n"
            )
            sock.sendall((request + extra + "\r\n").encode())
            socks.append(sock)
        statuses.update(status_of(sock) for sock in socks)
        return {"statuses": dict(statuses), "keyed_served": still_served(url)}  # while they are open
    finally:
        for sock in socks:
            sock.close()


def attacks(url: str) -> list[tuple[str, str, Callable[[], dict[str, Any]]]]:
    cookie = login_cookie(url, "198.51.100.1")
    join = "/ui/gradio_api/queue/join"
    json_cookie = f"Content-Type: application/json\r\nCookie: {cookie}\r\nX-Forwarded-For: 198.51.100.1\r\n"

    def wrong_keys() -> dict[str, Any]:
        headers = {"Authorization": "Bearer guess", "X-Forwarded-For": "198.51.100.2"}
        codes = Counter(httpx.get(f"{url}/v1/models", headers=headers).status_code for _ in range(150))
        return {"statuses": dict(codes)}

    def wrong_passwords() -> dict[str, Any]:
        data, headers = {"username": "me", "password": "guess"}, {"X-Forwarded-For": "198.51.100.3"}
        codes = Counter(
            httpx.post(f"{url}/ui/login", data=data, headers=headers).status_code for _ in range(150)
        )
        return {"statuses": dict(codes)}

    def docs() -> dict[str, Any]:
        return {p: httpx.get(url + p).status_code for p in ("/docs", "/openapi.json", "/redoc")}

    def long_name() -> dict[str, Any]:
        return {"status": httpx.get(f"{url}/v1/sources/{'a' * 300}.txt", headers=BEARER).status_code}

    def framing() -> dict[str, Any]:
        headers = httpx.get(f"{url}/ui/").headers
        return {k: headers.get(k) for k in ("x-frame-options", "content-security-policy")}

    return [
        ("POST 300 MB to queue/join, no login", "1", lambda: big_body(url, join, "", 300 * MB)),
        ("POST 300 MB to queue/join, logged in", "1", lambda: big_body(url, join, json_cookie, 300 * MB)),
        ("same, chunked (no Content-Length)", "1", lambda: big_body(url, join, json_cookie, 300 * MB, True)),
        (
            "POST 9 MB to /v1/ingest, wrong key",
            "1",
            lambda: big_body(url, "/v1/ingest", "Authorization: Bearer guess\r\n", 9 * MB),
        ),
        ("515 heartbeats, no login, one address", "2", lambda: streams(url, 515, "198.51.100.4")),
        ("515 heartbeats, logged in, one address", "2", lambda: streams(url, 515, "198.51.100.1", cookie)),
        ("150 wrong Bearer keys", "3", wrong_keys),
        ("150 wrong chat passwords", "3", wrong_passwords),
        ("/docs, /openapi.json, /redoc without key", "4", docs),
        ("/v1/sources/<300 characters>.txt", "10", long_name),
        ("framing headers of /ui/", "9", framing),
    ]


def main() -> None:
    env = {
        **scratch_env("attacks"),
        "RAG_API_KEYS": KEY,
        "RAG_ADMIN_KEY": ADMIN,
        "RAG_RATE_LIMIT_PER_MIN": "300",
    }
    rows, results = [], []
    with rag_server(env) as (url, proc, _):
        for name, item, attack in attacks(url):
            before = rss_mib(proc.pid)
            outcome = attack()
            time.sleep(1)
            after = rss_mib(proc.pid)
            served = outcome.pop("keyed_served", None) or still_served(url)
            results.append(
                {
                    "attack": name,
                    "item": item,
                    "outcome": outcome,
                    "rss_mib": [before, after],
                    "keyed_served": served,
                }
            )
            rows.append([name, item, outcome, f"{before:.0f} → {after:.0f}", served])
    save(
        "attacks",
        {"attacks": results},
        table(rows, ["attack", "issue 12 item", "server answered", "RSS MiB", "keyed clients served"]),
    )


if __name__ == "__main__":
    main()
