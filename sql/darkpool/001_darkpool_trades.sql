-- Dark pool prints (GET /api/darkpool/{ticker}), one row per print, keyed by the API's own
-- tracking_id. Prices and premiums are NUMERIC: the API sends them as decimal strings
-- ("18.9904") and a float would round them. Sizes and volumes are bigint, times timestamptz.
--
-- The description is a floor: live rows carry more. Two of those fields get columns because
-- they are facts about the print itself, with a type vvv can check:
--   trf_executed_at  when the trade reporting facility recorded the print; against
--                    executed_at it shows how late a print was reported (the reason passes
--                    read a lookback window again).
--   created_at       when Unusual Whales published the print.
-- A value of either that is not a timestamp stays in extra rather than costing the print.
-- issue_type, sector and avg30_volume describe the ticker, not the print (the same on every
-- row of a ticker), so they stay in extra with any other field the API adds.
CREATE TABLE trading.darkpool_trades (
    tracking_id         bigint      PRIMARY KEY,
    executed_at         timestamptz NOT NULL,
    ticker              text        NOT NULL,
    price               numeric     NOT NULL,
    size                bigint      NOT NULL,
    premium             numeric,
    volume              bigint,
    nbbo_bid            numeric,
    nbbo_ask            numeric,
    nbbo_bid_quantity   bigint,
    nbbo_ask_quantity   bigint,
    market_center       text,
    canceled            boolean,
    ext_hour_sold_codes text,
    sale_cond_codes     text,
    trade_code          text,
    trade_settlement    text,
    trf_executed_at     timestamptz,
    created_at          timestamptz,
    extra               jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at        timestamptz NOT NULL DEFAULT now()
);
-- Per ticker, newest first: what `vvv status` and most queries ask for.
CREATE INDEX darkpool_trades_ticker_executed_at ON trading.darkpool_trades (ticker, executed_at DESC);
CREATE INDEX darkpool_trades_executed_at ON trading.darkpool_trades (executed_at DESC);
