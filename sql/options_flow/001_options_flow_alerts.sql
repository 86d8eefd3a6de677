-- Options flow alerts (GET /api/option-trades/flow-alerts), one row per alert. The API gives
-- alerts no id, so id is the SHA-256 of (option_chain, alert_rule, created_at in UTC to the
-- microsecond): an alert is one rule firing on one contract at one instant. The other fields
-- measure the alert (premiums, sizes, volume, open interest, prices) and may be restated, so
-- they stay out of the identity: a restated alert is a duplicate, not a second row.
--
-- underlying, expiry, option_type and strike are read from the OCC option symbol
-- (AAPL230317C00150000: root, YYMMDD, C/P, strike x 1000); an alert whose ticker, expiry,
-- type or strike contradicts its symbol is rejected, so they are stored once, from the symbol.
-- underlying is the symbol's root as printed (SPXW for SPX weeklies, AAPL1 for an adjusted
-- contract); ticker is the underlying as the API sent it.
-- Prices, premiums and ratios are NUMERIC: the API sends them as decimal strings ("186705").
CREATE TABLE trading.options_flow_alerts (
    id                  text        PRIMARY KEY,
    created_at          timestamptz NOT NULL,
    option_chain        text        NOT NULL,
    alert_rule          text        NOT NULL,
    underlying          text        NOT NULL,
    expiry              date        NOT NULL,
    option_type         text        NOT NULL CHECK (option_type IN ('call', 'put')),
    strike              numeric     NOT NULL,
    ticker              text,
    issue_type          text,
    price               numeric,
    underlying_price    numeric,
    total_premium       numeric,
    total_ask_side_prem numeric,
    total_bid_side_prem numeric,
    total_size          bigint,
    trade_count         bigint,
    volume              bigint,
    open_interest       bigint,
    volume_oi_ratio     numeric,
    expiry_count        bigint,
    has_sweep           boolean,
    has_floor           boolean,
    has_multileg        boolean,
    has_singleleg       boolean,
    all_opening_trades  boolean,
    extra               jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX options_flow_alerts_created_at ON trading.options_flow_alerts (created_at DESC);
CREATE INDEX options_flow_alerts_underlying_created_at ON trading.options_flow_alerts (underlying, created_at DESC);
