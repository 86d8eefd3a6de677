"""The outage spool: pages fetched while the database is down wait here, on local disk.

One file per batch, named `<time_ns>-<pid>-<collector>.spool`, so sorting the names replays
them in the order they were fetched. A batch is written to `<name>.tmp`, fsynced, then renamed
and the directory fsynced: a `.spool` file is whole once it exists. Each line is
`<crc32 hex> <json>`: a header (collector, cursor key, run, cursor, response fields) and then
the response's items exactly as the API sent them, so a replay parses and validates them
through the normal path. A `.tmp` left by a writer that died is a batch cut short; its intact
lines are replayed without moving the cursor, so what is missing is fetched again.

Beside the batches, `cursors-<collector>.json` keeps the newest cursor of each scope that
was stored or spooled, written the same crash-safe way: a pass that starts while the database
is unreachable collects from there into the spool.

A disk that fills while a batch is written leaves no `.tmp` behind: the batch is refused
(`SpoolFull`, so the pass stops fetching) and an empty `disk-full` file says when, for
`vvv status`, until a batch is written again or a pass reaches the database.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from attrs import frozen

_SUFFIX = ".spool"
_PARTIAL = ".spool.tmp"
_DISK_FULL = "disk-full"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)

# The `.tmp` files this process is writing right now; any other `.tmp` of this pid is left over.
_writing: set[str] = set()
_writing_lock = threading.Lock()


class SpoolStuck(Exception):
    """A batch that is stored cannot be deleted: the replay stops so the order holds."""


class SpoolFull(Exception):
    """The spool has no room for another batch: fetching stops until the database is back."""


@frozen
class Usage:
    batches: int
    bytes: int


@frozen
class Batch:
    """One page as fetched, with what is needed to store it later as the pass would have."""

    collector: str
    scope: str  # the cursor key
    run_id: int | None  # the run in vvv.runs, when the database was up at the start of the pass
    run_key: str  # the pass, so the batches of one pass become one run when replayed
    instance: str | None
    started_at: str
    fetched_at: str
    cursor: Any  # unstructured, as in vvv.cursors
    payload: Any  # the decoded response, as received
    partition: str = ""  # the partition the page was requested for (files of earlier releases: "")


@frozen
class Spooled:
    """A batch read back: `complete` is False for one cut short (its `payload` holds the intact items)."""

    path: Path
    batch: Batch
    complete: bool


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def usage(self) -> Usage:
        sizes = [p.stat().st_size for p in self._files()]
        return Usage(batches=len(sizes), bytes=sum(sizes))

    def count(self, collector: str | None = None) -> int:
        """Batches waiting, for one collector or all."""
        return len(self._files(collector))

    def append(self, batch: Batch) -> Path:
        """Write `batch` durably; only then may the pass go on as if it were stored."""
        lines = encode(batch)
        size = sum(map(len, lines))
        used = self.usage().bytes
        if used + size > self.max_bytes:
            raise SpoolFull(
                f"the spool is full ({used // 2**20} MiB of {self.max_bytes // 2**20} MiB in {self.directory}):"
                " stopped fetching; the rest is fetched again once the database is back"
            )
        name = f"{time.time_ns():020d}-{os.getpid()}-{batch.collector}"
        partial, final = self.directory / (name + _PARTIAL), self.directory / (name + _SUFFIX)
        with _writing_lock:
            _writing.add(partial.name)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(partial, "xb") as file:
                file.writelines(lines)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, final)
            _fsync_directory(self.directory)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise self._unwritable(error) from None
        finally:
            with _writing_lock:
                _writing.discard(partial.name)
        self.recovered()
        return final

    def disk_full_since(self) -> float | None:
        """When a batch last found the spool's disk full (a Unix time), or None."""
        try:
            return (self.directory / _DISK_FULL).stat().st_mtime
        except OSError:
            return None

    def recovered(self) -> None:
        """Batches can be kept again (written, or not needed: the database took a pass)."""
        (self.directory / _DISK_FULL).unlink(missing_ok=True)

    def known_cursors(self, collector: str) -> dict[str, Any]:
        """The cursors (unstructured, by cursor key) last stored or spooled for `collector`."""
        try:
            data = json.loads((self.directory / f"cursors-{collector}.json").read_bytes())
        except (OSError, ValueError):  # none yet, or unreadable: the database's cursors are the truth
            return {}
        cursors = data.get("cursors") if isinstance(data, dict) and data.get("v") == 1 else None
        return cursors if isinstance(cursors, dict) else {}

    def remember_cursors(self, collector: str, cursors: dict[str, Any]) -> None:
        """Merge `cursors` into the collector's cursor file, durably; raises OSError when it cannot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"cursors-{collector}.json"
        with open(self.directory / f"cursors-{collector}.lock", "a") as lock:  # one writer at a time, any process
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = {**self.known_cursors(collector), **cursors}
            partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                with open(partial, "wb") as file:
                    file.write(json.dumps({"v": 1, "cursors": merged}, separators=(",", ":")).encode())
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
            _fsync_directory(self.directory)

    def _unwritable(self, error: OSError) -> SpoolFull:
        reason = error.strerror or str(error)
        if error.errno not in _NO_SPACE:
            return SpoolFull(f"cannot write the spool in {self.directory} ({reason}): stopped fetching;"
                             " the rest is fetched again once the database is back")
        try:  # an empty file needs no data block: the best chance to leave word on a full disk
            os.close(os.open(self.directory / _DISK_FULL, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
            os.utime(self.directory / _DISK_FULL)
        except OSError:
            pass
        return SpoolFull(f"the disk of the spool {self.directory} is full ({reason}): stopped fetching;"
                         " free space there: collecting goes on by itself")

    def pending(self, collector: str) -> Iterator[Spooled]:
        """The collector's batches in fetch order, each locked while the caller stores it.

        The caller calls `discard` once a batch is committed. It stops at a batch another
        process is replaying or still writing, so the order is never broken.
        """
        for path in sorted(self._files(collector)):
            if path.name.endswith(_PARTIAL):
                if _writer_alive(path):
                    return
                yield _read(path, path.read_bytes())
                continue
            try:
                file = open(path, "rb")
            except FileNotFoundError:  # replayed meanwhile by another process
                continue
            with file:
                try:
                    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return
                if not path.exists():
                    continue
                yield _read(path, file.read())

    def discard(self, spooled: Spooled) -> None:
        """Delete a stored batch; raises SpoolStuck when the file stays.

        The directory's fsync only makes the deletion durable: when it fails (a full disk) the
        worst a crash can do is bring the file back, and storing a batch again is harmless.
        """
        try:
            spooled.path.unlink(missing_ok=True)
        except OSError as error:
            raise SpoolStuck(f"could not delete the stored spool batch {spooled.path}: {error.strerror or error};"
                             " the replay stops there until it can") from None
        try:
            _fsync_directory(self.directory)
        except OSError:
            pass

    def _files(self, collector: str | None = None) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return [p for p in self.directory.iterdir()
                if p.name.endswith((_SUFFIX, _PARTIAL)) and (collector is None or _collector_of(p) == collector)]


def encode(batch: Batch) -> list[bytes]:
    payload = batch.payload
    items = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(items, list):
        header = {**_fields(batch), "rest": {k: v for k, v in payload.items() if k != "data"}, "items": len(items)}
        body = items
    else:
        header = {**_fields(batch), "rest": None, "items": None}
        body = [payload]
    return [_line(header), *map(_line, body)]


def decode(data: bytes) -> tuple[Batch, bool] | None:
    """The batch in `data` and whether it is whole; None when not even its header survived."""
    values = []
    for line in data.split(b"\n")[:-1]:  # the last piece has no newline: written only in part
        value = _value(line)
        if value is _BROKEN:
            break
        values.append(value)
    if not values or not isinstance(values[0], dict) or values[0].get("v") != 1:
        return None
    header, body = values[0], values[1:]
    fields = {k: header[k] for k in _FIELDS} | {"partition": header.get("partition", "")}
    if header["items"] is None:
        complete = len(body) == 1
        payload = body[0] if complete else {"data": []}
    else:
        complete = len(body) == header["items"]
        payload = {**header["rest"], "data": body}
    return Batch(payload=payload, **fields), complete


_FIELDS = ("collector", "scope", "run_id", "run_key", "instance", "started_at", "fetched_at", "cursor")
_BROKEN = object()


def _fields(batch: Batch) -> dict[str, Any]:
    return {"v": 1, **{name: getattr(batch, name) for name in _FIELDS}, "partition": batch.partition}


def _line(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(text), text)


def _value(line: bytes) -> Any:
    crc, _, text = line.partition(b" ")
    try:
        if int(crc, 16) != zlib.crc32(text):
            return _BROKEN
        return json.loads(text)
    except ValueError:
        return _BROKEN


def _read(path: Path, data: bytes) -> Spooled:
    decoded = decode(data)
    if decoded is None:  # cut short before its header was written: nothing in it to keep
        empty = Batch(_collector_of(path), "", None, path.name, None, "", "", None, {"data": []})
        return Spooled(path, empty, complete=False)
    batch, complete = decoded
    return Spooled(path, batch, complete=complete and not path.name.endswith(_PARTIAL))


def _collector_of(path: Path) -> str:
    return path.name.split("-", 2)[-1].split(".", 1)[0]


def _writer_alive(path: Path) -> bool:
    pid = int(path.name.split("-", 2)[1])
    if pid == os.getpid():  # this process: alive only if it is writing that file now, not left from before
        with _writing_lock:
            return path.name in _writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
