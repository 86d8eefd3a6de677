-- Intraday candles (GET /api/stock/{ticker}/ohlc/{candle_size}), one row per ticker, candle
-- size ('1m', '5m', ... '1d', as in the path) and start. Revisable: the open candle changes
-- until it closes. Prices are NUMERIC (decimal strings in the API), volumes bigint;
-- market_time is 'pr', 'r' or 'po' (pre-market, regular, post-market).
CREATE TABLE trading.ohlc (
    ticker       text        NOT NULL,
    candle_size  text        NOT NULL,
    start_time   timestamptz NOT NULL,
    end_time     timestamptz NOT NULL,
    open         numeric     NOT NULL,
    high         numeric     NOT NULL,
    low          numeric     NOT NULL,
    close        numeric     NOT NULL,
    volume       bigint,
    total_volume bigint,
    market_time  text,
    extra        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, candle_size, start_time)
);
-- The key serves one ticker's candles; this serves the market at one time.
CREATE INDEX ohlc_start_time ON trading.ohlc (start_time DESC);

-- Revisable: the collector replaces a restated row (its old version goes to vvv.revisions), so
-- where sql/roles.sql made vvv_collector it may UPDATE this table (roles.sql grants the same).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vvv_collector') THEN
        GRANT UPDATE ON trading.ohlc TO vvv_collector;
    END IF;
END
$$;
