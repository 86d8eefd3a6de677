"""Sequences the state machine (test_stateful.py) found, kept as deterministic examples of its promise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import DatabaseProxy
from tests.shell.test_stateful import Outages

CLEAN = ("none",)


@pytest.fixture
def machine(db_url: str, tmp_path: Path) -> Iterator[Outages]:
    proxy = DatabaseProxy(db_url)
    Outages.db_url, Outages.proxy, Outages.spool_dir = db_url, proxy, tmp_path / "spool"
    state = Outages()
    try:
        yield state
    finally:
        state.client.close()
        state.api.stop()
        proxy.close()


def test_a_malformed_print_of_a_burst_mended_below_the_lookback_is_owed_as_its_unreadable_reject(
    machine: Outages,
) -> None:
    """The burst is read (kept in vvv.rejects as served), newer prints push it below the lookback,
    and the provider mends it: the malformed print among it is never read again in its mended form."""
    machine.start(faults=(CLEAN, CLEAN, CLEAN))
    machine.an_unreadable_burst(prints=400)  # its malformed prints take every malformed form, some without an id
    machine.a_pass(headlines=0, prints=585, alerts=0, name="darkpool", fault=CLEAN)

    machine._settle()  # mends the burst
    machine._check()


def test_prints_published_while_a_sweep_stopped_at_an_unreadable_top_is_owed_are_collected(machine: Outages) -> None:
    """A full page of unreadable prints at the top leaves the whole day's top owed. Once the provider
    mends it, a pass reading that owed top down is cut short, prints keep coming, and a later pass
    finishes the owed part: the prints published meanwhile, more than a page of them, are still read."""
    machine.start(faults=(CLEAN, CLEAN, CLEAN))
    machine.an_unreadable_burst(prints=600)
    machine.a_pass(headlines=0, prints=0, alerts=0, name="darkpool", fault=CLEAN)  # halts at the burst
    machine.the_api_mends_the_burst(every=1)
    machine.a_pass(headlines=0, prints=0, alerts=0, name="darkpool", fault=("dies", "store", 2))
    machine.a_pass(headlines=0, prints=1200, alerts=0, name="darkpool", fault=CLEAN)

    machine._settle()
    machine._check()
