-- Views for the questions users ask first, one per data set. Days are New York trading days
-- (a print at 20:30 New York on the 2nd belongs to the 2nd, whatever the UTC date). This
-- folder sorts after every collector's, so the tables exist when it is applied. GRANT SELECT
-- ON ALL TABLES IN SCHEMA trading (sql/roles.sql) covers views: the reader role reads them.

-- Per ticker and day: prints, shares, notional (price x size) and VWAP, canceled prints left out.
CREATE VIEW trading.darkpool_daily AS
SELECT ticker,
       (executed_at AT TIME ZONE 'America/New_York')::date AS day,
       count(*)                                            AS prints,
       sum(size)                                           AS shares,
       sum(price * size)                                   AS notional,
       round(sum(price * size) / nullif(sum(size), 0), 4)  AS vwap,
       min(executed_at)                                    AS first_print,
       max(executed_at)                                    AS last_print
FROM trading.darkpool_trades
WHERE canceled IS NOT TRUE
GROUP BY ticker, (executed_at AT TIME ZONE 'America/New_York')::date;

-- Per underlying and day: alerts, premium by calls and puts, sweeps.
CREATE VIEW trading.options_flow_daily AS
SELECT underlying,
       (created_at AT TIME ZONE 'America/New_York')::date                         AS day,
       count(*)                                                                   AS alerts,
       count(*) FILTER (WHERE option_type = 'call')                               AS call_alerts,
       count(*) FILTER (WHERE option_type = 'put')                                AS put_alerts,
       coalesce(sum(total_premium) FILTER (WHERE option_type = 'call'), 0)        AS call_premium,
       coalesce(sum(total_premium) FILTER (WHERE option_type = 'put'), 0)         AS put_premium,
       count(*) FILTER (WHERE has_sweep)                                          AS sweeps,
       coalesce(sum(total_premium) FILTER (WHERE has_sweep), 0)                   AS sweep_premium
FROM trading.options_flow_alerts
GROUP BY underlying, (created_at AT TIME ZONE 'America/New_York')::date;

-- One row per headline and ticker it names: the news of one ticker is a WHERE away. Few
-- columns: a view pins the columns it names (join on id for the rest).
CREATE VIEW trading.news_by_ticker AS
SELECT t.ticker, n.created_at, n.source, n.headline, n.id
FROM trading.news_headlines n
CROSS JOIN LATERAL unnest(n.tickers) AS t(ticker);

-- The economic calendar from today on (New York), in time order.
CREATE VIEW trading.economic_upcoming AS
SELECT time, (time AT TIME ZONE 'America/New_York') AS time_new_york, event, type, reported_period, forecast, prev
FROM trading.economic_events
WHERE time >= (date_trunc('day', now() AT TIME ZONE 'America/New_York') AT TIME ZONE 'America/New_York')
ORDER BY time;
