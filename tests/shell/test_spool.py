"""The outage spool on disk: what is written comes back whole, in order, or visibly cut short."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.faults import dead_pid
from vvv.io import spool as spool_module
from vvv.io.spool import Batch, Spool, SpoolFull, decode, encode

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
PAYLOADS = st.one_of(
    st.builds(lambda items, rest: {**rest, "data": items}, st.lists(JSON, max_size=8),
              st.dictionaries(st.text(max_size=5).filter(lambda k: k != "data"), JSON, max_size=2)),
    JSON,
)


def _batch(payload: object = None, *, collector: str = "news", scope: str = "", cursor: object = None,
           partition: str = "") -> Batch:
    return Batch(collector=collector, scope=scope, run_id=7, run_key="run host:1/7", instance="run host:1",
                 started_at="2026-11-30T14:00:00+00:00", fetched_at="2026-11-30T14:00:01+00:00",
                 cursor=cursor if cursor is not None else {"newest": "x"},
                 payload=payload if payload is not None else {"data": [{"id": 1}]}, partition=partition)


@given(payload=PAYLOADS, scope=st.text(), cursor=JSON, partition=st.text())
def test_a_batch_reads_back_exactly_as_written(payload: object, scope: str, cursor: object, partition: str) -> None:
    batch = _batch(payload, scope=scope, cursor=cursor if cursor is not None else {}, partition=partition)
    assert decode(b"".join(encode(batch))) == (batch, True)


def test_a_batch_spooled_by_a_release_before_partitions_reads_with_no_partition() -> None:
    """Its header has no `partition`: the page is parsed as a collector without partitions would."""
    header, *items = encode(_batch(partition="SPY"))
    old = json.loads(header.split(b" ", 1)[1])
    del old["partition"]
    assert decode(b"".join([spool_module._line(old), *items])) == (_batch(), True)


@given(items=st.lists(JSON, min_size=1, max_size=8), data=st.data())
def test_a_batch_cut_short_anywhere_gives_back_only_whole_items_and_says_so(items: list, data: st.DataObject) -> None:
    whole = b"".join(encode(_batch({"data": items})))
    cut = data.draw(st.integers(0, len(whole) - 1))
    decoded = decode(whole[:cut])
    if decoded is None:  # the header itself was cut: nothing to keep
        return
    batch, complete = decoded
    assert not complete
    assert batch.payload["data"] == items[: len(batch.payload["data"])]


@given(items=st.lists(st.text(min_size=1), min_size=1, max_size=6), data=st.data())
def test_a_damaged_line_is_never_taken_for_data(items: list, data: st.DataObject) -> None:
    whole = bytearray(b"".join(encode(_batch({"data": items}))))
    at = data.draw(st.integers(0, len(whole) - 1))
    whole[at] ^= data.draw(st.integers(1, 255))
    decoded = decode(bytes(whole))
    if decoded is not None:
        batch, _ = decoded
        assert batch.payload["data"] == items[: len(batch.payload["data"])]


def test_batches_come_back_in_the_order_written_and_go_once_discarded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**20)
    for n in range(3):
        spool.append(_batch({"data": [n]}))
    spool.append(_batch({"data": ["other"]}, collector="darkpool"))
    assert spool.usage().batches == 4 and spool.count("news") == 3
    seen = []
    for spooled in spool.pending("news"):
        assert spooled.complete
        seen.append(spooled.batch.payload["data"])
        spool.discard(spooled)
    assert seen == [[0], [1], [2]]
    assert spool.count("news") == 0 and spool.count() == 1


def test_a_batch_that_would_overflow_the_spool_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=600)
    spool.append(_batch({"data": ["x" * 200]}))
    with pytest.raises(SpoolFull, match="the spool is full"):
        spool.append(_batch({"data": ["y" * 400]}))
    assert spool.usage().batches == 1


def _partial_file(spool: Spool, pid: int, batch: Batch, keep: int) -> Path:
    spool.directory.mkdir(parents=True, exist_ok=True)
    path = spool.directory / f"{1:020d}-{pid}-{batch.collector}.spool.tmp"
    path.write_bytes(b"".join(encode(batch))[:keep])
    return path


def test_a_file_left_by_a_writer_that_died_is_replayed_as_cut_short(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2**20)
    batch = _batch({"data": ["a", "b", "c"]})
    whole = b"".join(encode(batch))
    _partial_file(spool, dead_pid(), batch, keep=len(whole) - 3)
    (spooled,) = list(spool.pending("news"))
    assert not spooled.complete
    assert spooled.batch.payload["data"] == ["a", "b"]


def test_a_file_still_being_written_by_another_process_stops_the_replay_so_order_holds(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2**20)
    _partial_file(spool, os.getppid(), _batch(), keep=10)  # a live process, not this one
    spool.append(_batch({"data": ["later"]}))
    assert list(spool.pending("news")) == []


def test_a_file_this_process_is_writing_right_now_stops_the_replay(tmp_path: Path, monkeypatch) -> None:
    spool = Spool(tmp_path, max_bytes=2**20)
    seen_while_writing: list = []
    real_fsync = spool_module.os.fsync

    def fsync_and_look(fd: int) -> None:
        seen_while_writing.append(list(spool.pending("news")))
        real_fsync(fd)

    monkeypatch.setattr(spool_module.os, "fsync", fsync_and_look)
    spool.append(_batch())
    assert seen_while_writing[0] == []


def test_a_full_disk_leaves_no_partial_file_and_leaves_word_of_it_until_a_batch_is_written(
    tmp_path: Path, monkeypatch
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**20)

    def no_space(_: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module.os, "fsync", no_space)
    with pytest.raises(SpoolFull, match="is full"):
        spool.append(_batch())
    assert spool.count() == 0 and not list(spool.directory.glob("*.tmp"))
    assert spool.disk_full_since() is not None
    monkeypatch.undo()
    spool.append(_batch())
    assert spool.count() == 1 and spool.disk_full_since() is None
