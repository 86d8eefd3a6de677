"""The HTTP endpoints of `vvv run`: /metrics, /healthz, /readyz, /api/status and the status page.

The standard library's threading HTTP server, in a daemon thread: no framework. A request
that needs the database opens its own short-lived connection (`probes`), so neither a
scrape nor a page ever waits on, or holds up, the scheduler. With an access token set,
every endpoint requires it, as `Authorization: Bearer <token>` or as the password of HTTP
basic auth (any user name), so a browser can open the page too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import json
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen
from loguru import logger

from vvv.config import CollectorConfig, MonitorConfig
from vvv.core.base import Spec
from vvv.errors import one_line
from vvv.ops import page, probes, status
from vvv.ops.metrics import Metrics

LOOP_ALIVE_S = 60  # the loop wakes every second; a minute without a tick is a hung loop
_JSON = "application/json"
_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # the page loads nothing


@frozen
class Health:
    """What the running service says about itself."""

    loop_age_s: float | None  # seconds since the scheduler loop last went round; None before it started
    active: bool  # holds the active lock (not a standby)
    migrated: bool  # the database's migrations are applied


@frozen
class Target:
    """What the endpoints report on."""

    url: str
    collectors: tuple[tuple[Spec, CollectorConfig], ...]
    metrics: Metrics
    health: Callable[[], Health]
    instance: str = ""
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    status_options: Callable[[], dict[str, Any]] = dict  # more keyword arguments of status.collect_status


class Server:
    """A running server; `close()` stops it and frees the port."""

    def __init__(self, httpd: ThreadingHTTPServer) -> None:
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="monitor-http", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve(config: MonitorConfig, *, token: str | None, target: Target) -> Server:
    """Listen on config.address:config.port (0: any free port); raises OSError when it cannot."""
    handler = type("Handler", (_Handler,), {"target": target, "token": token})
    httpd = _server_class(config.address)((config.address, config.port), handler)
    httpd.daemon_threads = True
    return Server(httpd)


def _server_class(address: str) -> type[ThreadingHTTPServer]:
    if ":" not in address:
        return ThreadingHTTPServer
    return type("ThreadingHTTPServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})


def authorized(header: str | None, token: str | None) -> bool:
    """No token configured: everyone; else the token as a bearer token or as a basic-auth password."""
    if not token:
        return True
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        offered = value.strip()
    elif scheme.lower() == "basic":
        try:
            offered = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    else:
        return False
    return hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8"))


def health_report(target: Target) -> tuple[int, dict[str, Any]]:
    """200 while the scheduler loop goes round and the database answers; 503 with the reasons otherwise."""
    health = target.health()
    reasons = []
    if health.loop_age_s is None:
        reasons.append("the scheduler loop has not started yet")
    elif health.loop_age_s > LOOP_ALIVE_S:
        reasons.append(f"the scheduler loop last went round {health.loop_age_s:.0f} s ago")
    database = probes.ping(target.url)
    if database is not None:
        reasons.append(database)
    body = {
        "ok": not reasons,
        "loop_age_seconds": None if health.loop_age_s is None else round(health.loop_age_s, 3),
        "database": "ok" if database is None else "unavailable",
        "role": "active" if health.active else "standby",
    }
    if reasons:
        body["reason"] = "; ".join(reasons)
    return (200 if not reasons else 503), body


def ready_report(target: Target) -> tuple[int, dict[str, Any]]:
    """200 once migrations are applied and this instance is the active one; 503 with the reason otherwise."""
    health = target.health()
    reasons = []
    if not health.migrated:
        reasons.append("the database migrations are not applied yet")
    if not health.active:
        reasons.append("standby: this instance does not hold the active lock (another vvv run collects)")
    body: dict[str, Any] = {"ok": not reasons, "migrated": health.migrated,
                            "role": "active" if health.active else "standby"}
    if reasons:
        body["reason"] = "; ".join(reasons)
    return (200 if not reasons else 503), body


def status_report(target: Target) -> tuple[int, dict[str, Any]]:
    """What `vvv status --json` prints; 503 with what can still be said when the database is away."""
    try:
        with probes.connection(target.url) as conn:
            report = _collect_status(conn, target, target.clock())
    except Exception as error:
        reason = f"the status cannot be read: {one_line(error)}"
        logger.warning("/api/status: {}", reason)
        offline = getattr(status, "offline_status", None)
        report = offline(reason, target.status_options().get("spool")) if offline else {"problems": [reason]}
        return 503, {"ok": False, "error": reason, **report}
    return 200, {"ok": not report["problems"], **report}


def _collect_status(conn: Any, target: Target, now: datetime) -> dict[str, Any]:
    """`status.collect_status` with the options (spool, daily reserve) it takes."""
    accepted = inspect.signature(status.collect_status).parameters
    options = {k: v for k, v in target.status_options().items() if k in accepted}
    return status.collect_status(conn, list(target.collectors), now=now, **options)


def status_page(target: Target) -> str:
    now = target.clock()
    names = [spec.name for spec, _ in target.collectors]
    with probes.connection(target.url) as conn:
        report = _collect_status(conn, target, now)
        hours, rows = probes.hourly_rows(conn, names, now=now)
        runs = probes.recent_runs(conn, names)
    return page.render(report, hours=hours, rows=rows, runs=runs, now=now, instance=target.instance)


def _unavailable_page(reason: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="refresh" content="{page.REFRESH_S}"><link rel="icon" href="data:,">'
            f"<title>vvv status: unavailable</title></head><body><h1>vvv status</h1>"
            f"<p>The status cannot be read: {escape(reason)}</p></body></html>\n")


class _Handler(BaseHTTPRequestHandler):
    target: Target
    token: str | None
    server_version = "vvv"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if not authorized(self.headers.get("Authorization"), self.token):
            self._send(401, _TEXT, b"an access token is required (monitor.token_file)\n",
                       [("WWW-Authenticate", 'Basic realm="vvv", charset="UTF-8"'),
                        ("WWW-Authenticate", 'Bearer realm="vvv"')])
            return
        path = urlsplit(self.path).path
        route = _ROUTES.get(path)
        if route is None:
            self._send(404, _TEXT, f"no such page: {path}; try / /metrics /healthz /readyz /api/status\n".encode())
            return
        try:
            route(self)
        except Exception as error:  # a bug or a database failure: this request fails, the server goes on
            logger.opt(exception=error).error("monitoring request {} failed: {}", path, one_line(error))
            self._send(500, _TEXT, b"internal error: see the vvv log\n")

    def do_HEAD(self) -> None:  # noqa: N802
        self._head_only = True
        self.do_GET()

    def _metrics(self) -> None:
        body, content_type = self.target.metrics.render(self.headers.get("Accept") or "")
        self._send(200, content_type, body)

    def _healthz(self) -> None:
        self._json(*health_report(self.target))

    def _readyz(self) -> None:
        self._json(*ready_report(self.target))

    def _api_status(self) -> None:
        self._json(*status_report(self.target))

    def _page(self) -> None:
        try:
            html = status_page(self.target)
        except Exception as error:
            logger.warning("status page unavailable: {}", one_line(error))
            self._send(503, _HTML, _unavailable_page(one_line(error)).encode())
            return
        self._send(200, _HTML, html.encode(), [("Content-Security-Policy", _PAGE_POLICY)])

    def _json(self, code: int, body: dict[str, Any]) -> None:
        self._send(code, _JSON, (json.dumps(body, default=str) + "\n").encode())

    def _send(self, code: int, content_type: str, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if not getattr(self, "_head_only", False):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
        logger.debug("monitoring: {} {}", self.address_string(), format % args)


_ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/": _Handler._page,
    "/index.html": _Handler._page,
    "/metrics": _Handler._metrics,
    "/healthz": _Handler._healthz,
    "/readyz": _Handler._readyz,
    "/api/status": _Handler._api_status,
}
