-- Insider transactions (GET /api/insider/transactions): Form 3/4/5/144 filings, aggregated by
-- the provider, one row each. id is the provider's own id (a UUID) where the item has one,
-- else the SHA-256 vvv computes of the filing's fields (ticker, owner_name, filing_date,
-- transaction_date, transaction_code, formtype: not amount or price, which an aggregate
-- restated as filings join it changes); ids lists the provider's ids of the
-- filings aggregated. Revisable: the provider restates an aggregate when filings join it.
-- amount is signed shares (negative: disposed), price NUMERIC (a decimal string in the API).
CREATE TABLE trading.insider_transactions (
    id                   text        PRIMARY KEY,
    ticker               text        NOT NULL,
    filing_date          date        NOT NULL,
    transaction_date     date,
    owner_name           text,
    officer_title        text,
    transaction_code     text,
    formtype             text,
    amount               bigint,
    price                numeric,
    stock_price          numeric,
    transactions         bigint,
    shares_owned_before  bigint,
    shares_owned_after   bigint,
    is_director          boolean,
    is_officer           boolean,
    is_ten_percent_owner boolean,
    is_10b5_1            boolean,
    is_s_p_500           boolean,
    security_title       text,
    security_ad_code     text,
    natureofownership    text,
    director_indirect    text,
    date_excercisable    date,
    expiration_date      date,
    price_excercisable   numeric,
    ids                  text[],
    marketcap            numeric,
    sector               text,
    next_earnings_date   date,
    extra                jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at         timestamptz NOT NULL DEFAULT now()
);
-- Newest filings first, market-wide and per ticker.
CREATE INDEX insider_transactions_filing_date ON trading.insider_transactions (filing_date DESC);
CREATE INDEX insider_transactions_ticker_filing_date ON trading.insider_transactions (ticker, filing_date DESC);

-- Revisable: the collector replaces a restated row (its old version goes to vvv.revisions), so
-- where sql/roles.sql made vvv_collector it may UPDATE this table (roles.sql grants the same).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vvv_collector') THEN
        GRANT UPDATE ON trading.insider_transactions TO vvv_collector;
    END IF;
END
$$;
