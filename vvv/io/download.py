"""The full tape's download: one redirect to a presigned link, streamed to a file, verified.

The API answers `GET /api/option-trades/full-tape/{date}` with a 302 to another host. vvv
follows that ONE redirect, to https (or to loopback, for the fake), without the token: the
link is presigned and the token must never reach a third party. No other redirect is
followed. The body goes to `<name>.part` in chunks (never held in memory), is fsynced,
checked against `Content-Length`, and only then renamed to its final name.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from attrs import frozen

from vvv import __version__
from vvv.config import is_loopback
from vvv.io.spool import _fsync_directory

CHUNK = 1 << 20
ANSWER_CHARS = 300  # how much of a refusal's body is kept: enough for {"message": ..., "code": ...}
_REDIRECTS = (301, 302, 303, 307, 308)


class DownloadFailed(Exception):
    """The tape could not be fetched (network, a cut body, a bad link); trying again may help."""


class TapeRefused(DownloadFailed):
    """The API answered the tape request with an error status; `answer` is its body, shortened."""

    def __init__(self, status: int, answer: str, message: str) -> None:
        super().__init__(message)
        self.status, self.answer = status, answer


@frozen
class Downloaded:
    path: Path
    bytes: int
    status: int  # the API's own answer (302, or 200 when it served the file itself)


def tape_url(base_url: str, day: date) -> str:
    return f"{base_url.rstrip('/')}/api/option-trades/full-tape/{day.isoformat()}"


def fetch(
    url: str,
    *,
    token: str,
    dest: Path,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    progress: Callable[[int, int | None], None] = lambda done, total: None,
    transport: httpx.BaseTransport | None = None,
) -> Downloaded:
    """Download the tape at `url` to `dest`: the API's redirect followed once, without the token."""
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    agent = {"User-Agent": f"vvv/{__version__}"}
    with httpx.Client(timeout=timeout, follow_redirects=False, transport=transport, trust_env=False) as client:
        try:
            with client.stream("GET", url, headers={**agent, "Authorization": f"Bearer {token}"}) as first:
                status = first.status_code
                if status == 200:
                    return Downloaded(path=_save(first, dest, progress), bytes=dest.stat().st_size, status=status)
                if status not in _REDIRECTS:
                    first.read()
                    raise refusal(status, first.text)
                target = _redirect_target(url, first.headers.get("location"))
            with client.stream("GET", target, headers=agent) as second:
                if second.status_code in _REDIRECTS:
                    raise DownloadFailed(f"the download link answered {second.status_code} (another redirect, to"
                                         f" {_host(second.headers.get('location'))}): vvv follows one redirect only")
                if second.status_code != 200:
                    second.read()
                    raise DownloadFailed(f"the download link ({_host(target)}) answered {second.status_code}:"
                                         f" {_short(second.text)}")
                _save(second, dest, progress)
        except httpx.HTTPError as error:
            raise DownloadFailed(f"the download failed: {error.__class__.__name__}: {error}") from None
    return Downloaded(path=dest, bytes=dest.stat().st_size, status=status)


def refusal(status: int, body: str) -> TapeRefused:
    """The API's refusal in words an operator can act on, with what it answered."""
    answer = _short(body)
    if status == 404:
        meaning = "not published (yet): the tape of a day is complete by about 19:00 New York; or no trading that day"
    elif status == 422 and "missing_access" in body:
        meaning = "the plan lacks the full tape (missing_access): it needs the Advanced plan"
    elif status == 422:
        meaning = "the market was closed that day"
    elif status == 403:
        meaning = "older than the plan's history of the full tape"
    elif status == 401:
        meaning = "the API refused the token (VVV_UW_TOKEN)"
    elif status == 429 or status >= 500:
        meaning = "the API is busy or failing; try again later"
    else:
        meaning = "an answer vvv does not expect"
    return TapeRefused(status, answer, f"the API answered {status}: {meaning} ({answer or 'no body'})")


def _redirect_target(url: str, location: str | None) -> str:
    """The redirect's target, if it is https, or http to this machine (the fake)."""
    if not location:
        raise DownloadFailed("the API answered a redirect without a Location")
    target = urljoin(url, location)
    parts = urlsplit(target)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname)):
        return target
    raise DownloadFailed(f"the API redirected to {parts.scheme}://{parts.hostname}: vvv downloads over https only")


def _save(response: httpx.Response, dest: Path, progress: Callable[[int, int | None], None]) -> Path:
    """Stream the body to `dest` (via `.part`), fsynced, its size checked against Content-Length."""
    length = response.headers.get("content-length")
    total = int(length) if length and length.isdigit() else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    if total is not None and shutil.disk_usage(dest.parent).free < total:
        raise DownloadFailed(f"not enough disk space in {dest.parent} for the tape ({total / 2**20:,.0f} MiB)")
    part = dest.with_name(dest.name + ".part")
    done = 0
    try:
        with open(part, "wb") as out:
            for chunk in response.iter_raw(CHUNK):
                out.write(chunk)
                done += len(chunk)
                progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if total is not None and done != total:
            raise DownloadFailed(f"the download was cut: {done:,} of {total:,} bytes (Content-Length)")
        os.replace(part, dest)
    except httpx.HTTPError as error:
        raise DownloadFailed(f"the download was cut at {done:,} of {total or '?'} bytes: {error}") from None
    finally:
        part.unlink(missing_ok=True)
    _fsync_directory(dest.parent)
    return dest


def tape_entry(path: Path, day: date) -> zipfile.ZipInfo:
    """The ZIP's one CSV entry; a ZIP that is not one DEFLATE'd CSV fails with the reason.

    The entry's CRC-32 is checked as it is read (zipfile raises at its end), during the load."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise DownloadFailed(f"the ZIP does not verify: {error}") from None
    if len(entries) != 1:
        raise DownloadFailed(f"the ZIP holds {len(entries)} entries, not the one CSV of the tape")
    entry = entries[0]
    if not entry.filename.endswith(".csv") or entry.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        raise DownloadFailed(f"the ZIP's entry {entry.filename!r} is not a CSV vvv can read")
    if entry.filename != f"{day.isoformat()}-option_trades.csv":
        from loguru import logger

        logger.warning("the tape of {} holds {!r}, not {}-option_trades.csv: loading it anyway", day, entry.filename, day)
    return entry


def _host(url: str | None) -> str:
    return urlsplit(url or "").hostname or "?"


def _short(text: str) -> str:
    return " ".join(text.split())[:ANSWER_CHARS]
