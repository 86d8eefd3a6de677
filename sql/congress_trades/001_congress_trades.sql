-- Congress members' trades (GET /api/congress/recent-trades), one row per reported trade. id
-- is the provider's own id where the item carries one, else the SHA-256 vvv computes of the
-- report's fields (politician_id or name, ticker, transaction_date, filed_at_date, txn_type,
-- amounts, issuer: a member's and their spouse's trades are two reports). Revisable: a report may be amended. amounts stays text: the API sends a range
-- ("$15,001 - $50,000"). member_type is 'house' or 'senate' as the API writes it.
CREATE TABLE trading.congress_trades (
    id               text        PRIMARY KEY,
    name             text,
    reporter         text,
    politician_id    text,
    member_type      text,
    ticker           text,
    txn_type         text,
    amounts          text,
    transaction_date date,
    filed_at_date    date        NOT NULL,
    issuer           text,
    is_active        boolean,
    notes            text,
    extra            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at     timestamptz NOT NULL DEFAULT now()
);
-- Newest reports first, market-wide and per ticker.
CREATE INDEX congress_trades_filed_at_date ON trading.congress_trades (filed_at_date DESC);
CREATE INDEX congress_trades_ticker_transaction_date ON trading.congress_trades (ticker, transaction_date DESC);

-- Revisable: the collector replaces a restated row (its old version goes to vvv.revisions), so
-- where sql/roles.sql made vvv_collector it may UPDATE this table (roles.sql grants the same).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vvv_collector') THEN
        GRANT UPDATE ON trading.congress_trades TO vvv_collector;
    END IF;
END
$$;
