"""A local fake of the full options tape, for tests and the benchmark.

Two servers on 127.0.0.1: the API (`GET /api/option-trades/full-tape/{date}`, which checks
the token and answers 302 with a presigned-looking link) and the download host the link
points to (another port, and the name `localhost`, so a token sent there is seen), which
serves a generated ZIP of one CSV in the 49- or the 40-column layout. Every request's
headers are kept in `requests`. Knobs: an answer per day (404, 422, 403 with a body), a cut
download, a bad CRC, a second redirect, malformed lines, an unknown column, and a row count
that does not match (a line break inside a quoted field).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PATH = "/api/option-trades/full-tape/"
HEADER_40 = (
    "id,underlying_symbol,executed_at,nbbo_bid,nbbo_ask,size,price,option_chain_id,alert_score,created_at,"
    "report_flags,tags,expiry,option_type,open_interest,strike,premium,aggregated_trade_id,volume,"
    "underlying_price,ewma_nbbo_ask,ewma_nbbo_bid,implied_volatility,delta,theta,gamma,vega,rho,theo,"
    "upstream_condition_detail,market_center_locate,canceled,trade_id,exchange,ask_vol,bid_vol,no_side_vol,"
    "mid_vol,multi_vol,stock_multi_vol"
).split(",")
NEW_49 = ["exchange_id", "nbbo_bid_exchange_id", "nbbo_bid_size", "nbbo_bid_time", "nbbo_bid_exchange",
          "nbbo_ask_exchange_id", "nbbo_ask_size", "nbbo_ask_time", "nbbo_ask_exchange"]
HEADER_49 = HEADER_40 + NEW_49
_SYMBOLS = ("SPY", "QQQ", "TSLA", "NVDA", "AAPL", "SPX", "IWM", "AMD")
_SESSION_S = 23_400  # 09:30 to 16:00 New York


@dataclass
class Knobs:
    """What the fake does for one day; the defaults serve a good tape."""

    rows: int = 50
    layout: int = 49  # or 40
    status: int | None = None  # answer this instead of the redirect (404, 422, 403, ...)
    body: str = ""
    cut: bool = False  # send half the ZIP, then close the connection
    bad_crc: bool = False  # the entry's CRC-32 in the ZIP does not match its data
    redirect_again: bool = False  # the download host redirects once more
    malformed: tuple[int, ...] = ()  # data rows (1-based) spoilt: odd ones too short, even ones a bad number
    unknown_column: bool = False  # a column vvv has no column for
    split_row: bool = False  # a line break inside a quoted field: lines and rows differ
    repeated: bool = False  # the last row comes again, canceled: a key the tape holds twice
    version: int = 0  # change it to serve different rows for the same day (a re-load)


@dataclass
class FakeTape:
    token: str
    days: dict[date, Knobs] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (server, path, headers)

    def __post_init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="fake-tape-"))
        self._lock = threading.Lock()
        self._files = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, "files"))
        self._api = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, "api"))
        for server in (self._files, self._api):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    url = base_url  # the name FakeApi gives it

    @property
    def files_url(self) -> str:
        return f"http://localhost:{self._files.server_address[1]}"

    def knobs(self, day: date) -> Knobs:
        return self.days.setdefault(day, Knobs())

    def zip_path(self, day: date) -> Path:
        """The ZIP of `day` as its knobs make it, written once (and again when the knobs change)."""
        knobs = self.knobs(day)
        key = abs(hash(repr(knobs)))
        path = self._dir / f"{day}-{key}.zip"
        with self._lock:
            if not path.exists():
                write_zip(path, day, knobs)
        return path

    def close(self) -> None:
        for server in (self._api, self._files):
            server.shutdown()
            server.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> FakeTape:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def write_zip(path: Path, day: date, knobs: Knobs) -> None:
    part = path.with_suffix(".part")
    with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(f"{day.isoformat()}-option_trades.csv", "w", force_zip64=True) as out:
            buffer = []
            for line in tape_lines(day, knobs):
                buffer.append(line)
                if len(buffer) >= 4096:
                    out.write(b"".join(buffer))
                    buffer.clear()
            out.write(b"".join(buffer))
    if knobs.bad_crc:
        _spoil_crc(part)
    part.replace(path)


def tape_lines(day: date, knobs: Knobs) -> Iterator[bytes]:
    """The CSV of a day, header first, as the real tape encodes values (PostgreSQL text)."""
    header = HEADER_49 if knobs.layout == 49 else HEADER_40
    if knobs.unknown_column:
        header = [*header, "venue_flag"]
    yield (",".join(header) + "\n").encode()
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=13, minutes=30)
    step = _SESSION_S * 1_000_000 // max(knobs.rows, 1)
    expiry = day + timedelta(days=3)
    for n in range(1, knobs.rows + 1):
        if n in knobs.malformed and n % 2:
            yield f"{row_id(day, n, knobs.version)},BROKEN\n".encode()
            continue
        yield _row(day, n, knobs, start + timedelta(microseconds=n * step), expiry).encode()
    if knobs.repeated:
        n = knobs.rows
        again = _values(day, n, knobs, start + timedelta(microseconds=n * step), expiry)
        again[HEADER_40.index("canceled")] = "t"
        yield (",".join(again) + "\n").encode()


def row_id(day: date, n: int, version: int = 0) -> uuid.UUID:
    return uuid.UUID(int=(day.toordinal() << 64) | (version << 40) | n)


def _row(day: date, n: int, knobs: Knobs, at: datetime, expiry: date) -> str:
    return ",".join(_values(day, n, knobs, at, expiry)) + "\n"


def _values(day: date, n: int, knobs: Knobs, at: datetime, expiry: date) -> list[str]:
    symbol = _SYMBOLS[n % len(_SYMBOLS)]
    side = "call" if n % 2 else "put"
    strike = 100 + n % 50
    chain = f"{symbol}{expiry:%y%m%d}{side[0].upper()}{strike * 1000:08d}"
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"
    price = f"{1 + n % 700 / 100:.2f}"
    size = "12x" if n in knobs.malformed else str(1 + n % 9)
    underlying = "" if symbol == "SPX" else f"{400 + n % 300 / 10:.2f}"  # empty on index options
    tags = '"{ask_side,bullish}"' if n % 3 else "{bid_side}"
    detail = '"slan,isoi"' if n % 7 == 0 else "auto"
    if knobs.split_row and n == 2:
        detail = '"auto\nsplit"'
    canceled = "t" if n % 97 == 0 else "f"
    values = [
        str(row_id(day, n, knobs.version)), symbol, stamp, "5.70", "5.95", size, price, chain, "",
        stamp, "{}", tags, expiry.isoformat(), side, str(5000 + n % 999), str(strike), f"{float(price) * 100:.2f}",
        "", str(n % 4000), underlying, "5.95", "5.70", "0.5", "0.7", "-0.004", "0.02", "0.06", "0.09", "5.95",
        detail, "8", canceled, str(n), "XPHO", "1", "0", "0", "0", "0", "0",
    ]
    if knobs.layout == 49:
        values += ["7", "3", "12", stamp, "XCBO", "9", "4", stamp, "XPHL"]
    if knobs.unknown_column:
        values.append("lit" if n % 2 else "")
    return values


def _spoil_crc(path: Path) -> None:
    """Flip the entry's CRC-32 in the local header and the central directory: the data no longer verifies."""
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
    wrong = (info.CRC ^ 0xFFFFFFFF).to_bytes(4, "little")
    right = info.CRC.to_bytes(4, "little")
    data = bytearray(path.read_bytes()) if path.stat().st_size < 2**30 else None
    if data is None:
        raise ValueError("bad_crc is for small test files")
    local = info.header_offset + 14
    assert data[local:local + 4] == right
    data[local:local + 4] = wrong
    central = data.rfind(b"PK\x01\x02")
    at = central + 16
    assert data[at:at + 4] == right
    data[at:at + 4] = wrong
    path.write_bytes(bytes(data))


def _handler(fake: FakeTape, server: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            fake.requests.append((server, self.path, {k.lower(): v for k, v in self.headers.items()}))
            if server == "api":
                self._api()
            else:
                self._file()

        def _api(self) -> None:
            path = urlsplit(self.path).path
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                return self._answer(401, '{"message":"Unauthorized"}')
            if not path.startswith(PATH):
                return self._answer(404, '{"message":"no such endpoint"}')
            try:
                day = date.fromisoformat(path[len(PATH):])
            except ValueError:
                return self._answer(422, '{"message":"invalid date"}')
            knobs = fake.knobs(day)
            if knobs.status is not None:
                return self._answer(knobs.status, knobs.body)
            self.send_response(302)
            self.send_header("Location", f"{fake.files_url}/tapes/{day}.zip?X-Signature=presigned-{day}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _file(self) -> None:
            day = date.fromisoformat(urlsplit(self.path).path.rsplit("/", 1)[-1].removesuffix(".zip"))
            knobs = fake.knobs(day)
            if knobs.redirect_again:
                self.send_response(302)
                self.send_header("Location", f"{fake.files_url}/elsewhere/{day}.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = fake.zip_path(day)
            size = path.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            limit = size // 2 if knobs.cut else size
            with open(path, "rb") as data:
                sent = 0
                while sent < limit:
                    chunk = data.read(min(1 << 20, limit - sent))
                    if not chunk:
                        break
                    try:
                        self.wfile.write(chunk)
                    except OSError:
                        return
                    sent += len(chunk)
            if knobs.cut:
                self.close_connection = True

        def _answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler
