-- Earnings reports (GET /api/earnings/premarket and /afterhours), one row per company, report
-- date and report time ('premarket', 'postmarket' or 'unknown', as the API writes it; the
-- afterhours endpoint serves 'postmarket'). Revisable: actual_eps, reaction and the
-- post_earnings_* fields fill in after the report, and estimates move before it.
-- EPS, moves, closes and market caps are NUMERIC: the API sends them as decimal strings.
CREATE TABLE trading.earnings (
    symbol                text        NOT NULL,
    report_date           date        NOT NULL,
    report_time           text        NOT NULL,
    full_name             text,
    actual_eps            numeric,
    street_mean_est       numeric,
    expected_move         numeric,
    expected_move_perc    numeric,
    reaction              numeric,
    pre_earnings_date     date,
    pre_earnings_close    numeric,
    post_earnings_date    date,
    post_earnings_close   numeric,
    ending_fiscal_quarter date,
    marketcap             numeric,
    sector                text,
    source                text,
    has_options           boolean,
    is_s_p_500            boolean,
    continent             text,
    country_code          text,
    country_name          text,
    extra                 jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, report_date, report_time)
);
-- What reports on a day (the calendar view), and one company's history by the key.
CREATE INDEX earnings_report_date ON trading.earnings (report_date DESC, report_time);

-- Revisable: the collector replaces a restated row (its old version goes to vvv.revisions), so
-- where sql/roles.sql made vvv_collector it may UPDATE this table (roles.sql grants the same).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vvv_collector') THEN
        GRANT UPDATE ON trading.earnings TO vvv_collector;
    END IF;
END
$$;
