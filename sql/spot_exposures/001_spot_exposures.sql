-- Spot GEX per minute (GET /api/stock/{ticker}/spot-exposures): the dealers' gamma, charm and
-- vanna exposure per one percent move, by open interest (_oi), volume (_vol) and
-- directionalized volume (_dir), one row per ticker and calculation time. Not revisable: a
-- minute's figures are computed once. All figures are NUMERIC (decimal strings in the API).
CREATE TABLE trading.spot_exposures (
    ticker                         text        NOT NULL,
    time                           timestamptz NOT NULL,
    price                          numeric,
    gamma_per_one_percent_move_oi  numeric,
    gamma_per_one_percent_move_vol numeric,
    gamma_per_one_percent_move_dir numeric,
    charm_per_one_percent_move_oi  numeric,
    charm_per_one_percent_move_vol numeric,
    charm_per_one_percent_move_dir numeric,
    vanna_per_one_percent_move_oi  numeric,
    vanna_per_one_percent_move_vol numeric,
    vanna_per_one_percent_move_dir numeric,
    extra                          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at                   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, time)
);
-- The key serves one ticker's day; this serves the market at one time.
CREATE INDEX spot_exposures_time ON trading.spot_exposures (time DESC);
