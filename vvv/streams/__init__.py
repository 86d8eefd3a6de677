"""The socket's channels: one pure declaration per kind of channel, and the registry.

A channel's name on the wire is its kind, with a ticker for the per-ticker ones:
`flow-alerts`, `news`, `off_lit_trades`, `option_trades`, `option_trades:TSLA`, `price:SPY`, `gex:SPY`.

    >>> channel("price:spy").name, channel("option_trades").ticker
    ('price:SPY', None)
"""

from __future__ import annotations

from vvv.core.partitions import normalize_ticker
from vvv.core.base import Spec
from vvv.streams import flow_alerts, gex, news, off_lit_trades, option_trades, prices
from vvv.streams.base import Channel, Declaration

DECLARATIONS: dict[str, Declaration] = {d.kind: d for d in (
    flow_alerts.DECLARATION, news.DECLARATION, off_lit_trades.DECLARATION, option_trades.DECLARATION,
    prices.DECLARATION, gex.DECLARATION,
)}
# The tables only the socket fills: `vvv check` checks them beside the collectors'.
STREAM_SPECS: tuple[Spec, ...] = (option_trades.SPEC, prices.SPEC, gex.SPEC)


def channel(name: str) -> Channel:
    """The channel `name` joins; a ValueError says what is wrong with the name."""
    if not isinstance(name, str):
        raise ValueError(f"expected a channel name, got {name!r}")
    kind, colon, ticker = name.strip().partition(":")
    declaration = DECLARATIONS.get(kind)
    if declaration is None:
        raise ValueError(f"unknown channel {name!r} (known: {', '.join(_spelled())})")
    if not colon:
        if declaration.ticker == "required":
            raise ValueError(f"channel {name!r} needs a ticker: {kind}:TICKER")
        return Channel(kind, declaration)
    if declaration.ticker == "none":
        raise ValueError(f"channel {kind!r} takes no ticker, got {name!r}")
    symbol = normalize_ticker(ticker)
    return Channel(f"{kind}:{symbol}", declaration, symbol)


def _spelled() -> list[str]:
    shapes = {"none": "{}", "optional": "{0}, {0}:TICKER", "required": "{0}:TICKER"}
    return [shapes[d.ticker].format(kind) if d.ticker != "none" else kind for kind, d in DECLARATIONS.items()]
