-- Every option trade (the `option_trades` socket channel and the nightly full tape), keyed by
-- the provider's `id` (a UUID) and partitioned by New York trading day on executed_at: one
-- partition per day, from that day's midnight in New York to the next. The stream inserts into
-- the day's partition as trades arrive; the tape, the authoritative copy of its day, is loaded
-- into a fresh table of the same shape and swapped in for that day's partition.
--
-- The key holds the partition column (PostgreSQL requires it) and the distribution column a
-- Citus cluster would shard by (underlying_symbol): no uniqueness crosses a partition or a shard.
-- Columns are the tape's, by its header names (the socket's option_symbol is option_chain_id,
-- its trade_code is upstream_condition_detail); a field with no column goes to extra.
CREATE TABLE trading.option_trades (
    id                        uuid        NOT NULL,
    executed_at               timestamptz NOT NULL,
    underlying_symbol         text        NOT NULL,
    option_chain_id           text        NOT NULL,
    option_type               text,
    expiry                    date,
    strike                    numeric,
    price                     numeric,
    size                      bigint,
    premium                   numeric,
    nbbo_bid                  numeric,
    nbbo_ask                  numeric,
    ewma_nbbo_bid             numeric,
    ewma_nbbo_ask             numeric,
    underlying_price          numeric,   -- empty on index options
    open_interest             bigint,
    volume                    bigint,
    implied_volatility        numeric,
    delta                     numeric,
    theta                     numeric,
    gamma                     numeric,
    vega                      numeric,
    rho                       numeric,
    theo                      numeric,
    alert_score               numeric,
    report_flags              text[],
    tags                      text[],
    aggregated_trade_id       text,
    upstream_condition_detail text,
    market_center_locate      text,
    trade_id                  text,
    exchange                  text,
    canceled                  boolean,
    ask_vol                   bigint,
    bid_vol                   bigint,
    no_side_vol               bigint,
    mid_vol                   bigint,
    multi_vol                 bigint,
    stock_multi_vol           bigint,
    created_at                timestamptz,
    -- Since 2026-09-14 the tape also carries the exchange and each side of the NBBO's exchange,
    -- size and time; older days leave them null.
    exchange_id               text,
    nbbo_bid_exchange_id      text,
    nbbo_bid_size             bigint,
    nbbo_bid_time             timestamptz,
    nbbo_bid_exchange         text,
    nbbo_ask_exchange_id      text,
    nbbo_ask_size             bigint,
    nbbo_ask_time             timestamptz,
    nbbo_ask_exchange         text,
    extra                     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, executed_at, underlying_symbol)
) PARTITION BY RANGE (executed_at);

CREATE INDEX option_trades_underlying_executed_at ON trading.option_trades (underlying_symbol, executed_at);
CREATE INDEX option_trades_chain_executed_at ON trading.option_trades (option_chain_id, executed_at);

-- The partition of New York trading day `day`, created when missing; its name is returned.
-- SECURITY DEFINER: the collector role (sql/roles.sql) has no DDL, yet the stream must open a
-- new day's partition at the day's first trade.
CREATE FUNCTION vvv.option_trades_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    name text := format('option_trades_%s', to_char(day, 'YYYYMMDD'));
BEGIN
    IF to_regclass(format('trading.%I', name)) IS NULL THEN
        BEGIN
            EXECUTE format(
                'CREATE TABLE trading.%I PARTITION OF trading.option_trades FOR VALUES FROM (%L) TO (%L)',
                name,
                (day::timestamp AT TIME ZONE 'America/New_York'),
                ((day + 1)::timestamp AT TIME ZONE 'America/New_York'));
        EXCEPTION WHEN duplicate_table THEN
            NULL;  -- created meanwhile by another session
        END;
    END IF;
    RETURN 'trading.' || name;
END $$;

-- Any role that can connect could otherwise create partitions as the owner.
REVOKE EXECUTE ON FUNCTION vvv.option_trades_partition(date) FROM PUBLIC;
