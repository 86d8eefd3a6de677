-- Market tide (GET /api/market/market-tide): the whole market's cumulative net call and put
-- premium and net volume since the open, one row per tick. interval is '5m' (interval_5m=true,
-- the API's default) or '1m'; each is its own series. Revisable: the last tick changes until
-- it closes. timestamp is the tick's start (the API writes it in New York time, -04:00).
CREATE TABLE trading.market_tide (
    "timestamp"      timestamptz NOT NULL,
    "interval"       text        NOT NULL CHECK ("interval" IN ('1m', '5m')),
    date             date        NOT NULL,
    net_call_premium numeric,
    net_put_premium  numeric,
    net_volume       bigint,
    extra            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY ("timestamp", "interval")
);
-- A day's series, in order.
CREATE INDEX market_tide_date ON trading.market_tide (date, "interval", "timestamp");

-- Revisable: the collector replaces a restated row (its old version goes to vvv.revisions), so
-- where sql/roles.sql made vvv_collector it may UPDATE this table (roles.sql grants the same).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vvv_collector') THEN
        GRANT UPDATE ON trading.market_tide TO vvv_collector;
    END IF;
END
$$;
