-- Net premium ticks (GET /api/stock/{ticker}/net-prem-ticks): each trading minute's call and
-- put volume (ask and bid side), net premium, net volume and net delta of a ticker's options,
-- one row per ticker and tape_time (the minute's start). Not revisable: a minute is reported
-- once it has passed. Premiums and delta are NUMERIC (decimal strings in the API).
CREATE TABLE trading.net_prem_ticks (
    ticker               text        NOT NULL,
    tape_time            timestamptz NOT NULL,
    date                 date        NOT NULL,
    call_volume          bigint,
    call_volume_ask_side bigint,
    call_volume_bid_side bigint,
    put_volume           bigint,
    put_volume_ask_side  bigint,
    put_volume_bid_side  bigint,
    net_call_premium     numeric,
    net_put_premium      numeric,
    net_call_volume      bigint,
    net_put_volume       bigint,
    net_delta            numeric,
    extra                jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, tape_time)
);
-- The key serves one ticker's day; this serves the market at one time.
CREATE INDEX net_prem_ticks_tape_time ON trading.net_prem_ticks (tape_time DESC);
