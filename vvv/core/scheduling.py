"""What is due now: a pure function of the clock, the market calendar and the last passes.

Each collector has an interval per session phase (regular; pre-market and after-hours;
closed). A collector is due when its interval for the phase in force has passed since
its last start (or its last skipped slot). A collector still running when it is due
is not started again: that slot is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from attrs import frozen

from vvv.config import CollectorConfig
from vvv.core import calendar

_LOOKAHEAD_PHASES = 12  # enough to cross a long weekend of phases that are "off"


@frozen
class Slot:
    """A collector's position in the schedule: when its interval last restarted, and whether it is running."""

    anchor: datetime | None
    running: bool = False


@frozen
class Decision:
    start: tuple[str, ...]
    skip: tuple[str, ...]


def interval(config: CollectorConfig, phase: str) -> int | None:
    """Seconds between passes in `phase`, or None when the collector is off then."""
    if phase == "regular":
        return config.interval
    if phase in ("pre", "after"):
        return config.extended_interval
    return config.closed_interval


def next_due(config: CollectorConfig, anchor: datetime | None, now: datetime) -> datetime | None:
    """The first instant at or after `now` at which the collector is due; None if off for the foreseeable future."""
    moment = now
    for _ in range(_LOOKAHEAD_PHASES):
        seconds = interval(config, calendar.phase(moment))
        if seconds is not None:
            due = moment if anchor is None else max(moment, anchor + timedelta(seconds=seconds))
            change = calendar.next_phase_change(moment)
            if due < change:
                return due
        moment = calendar.next_phase_change(moment)
    return None


def decide(now: datetime, configs: Mapping[str, CollectorConfig], slots: Mapping[str, Slot]) -> Decision:
    """Which collectors to start now, and which are due but still running (their slot is skipped)."""
    start, skip = [], []
    for name, config in configs.items():
        slot = slots.get(name, Slot(anchor=None))
        due = next_due(config, slot.anchor, now)
        if due is None or due > now:
            continue
        (skip if slot.running else start).append(name)
    return Decision(start=tuple(start), skip=tuple(skip))
