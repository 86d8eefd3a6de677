-- Live gamma, delta, charm and vanna exposure per 1% move of the underlying, from the socket's
-- gex:TICKER channels (by open interest, by volume, directional), one row per ticker and instant.
CREATE TABLE trading.gex (
    ticker                          text        NOT NULL,
    timestamp                       timestamptz NOT NULL,
    price                           numeric,
    gamma_per_one_percent_move_oi   numeric,
    delta_per_one_percent_move_oi   numeric,
    charm_per_one_percent_move_oi   numeric,
    vanna_per_one_percent_move_oi   numeric,
    gamma_per_one_percent_move_vol  numeric,
    delta_per_one_percent_move_vol  numeric,
    charm_per_one_percent_move_vol  numeric,
    vanna_per_one_percent_move_vol  numeric,
    gamma_per_one_percent_move_dir  numeric,
    charm_per_one_percent_move_dir  numeric,
    vanna_per_one_percent_move_dir  numeric,
    extra                           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at                    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, timestamp)
);
