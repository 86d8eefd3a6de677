-- FDA calendar events (GET /api/market/fda-calendar): PDUFA dates, advisory committees, trial
-- readouts, one row per (ticker, drug, catalyst, start_date); start_date is the target date
-- (end_date closes a window such as "in Q3", equal to start_date for one day). Revisable:
-- outcome and outcome_brief fill in after the date, status and notes change before it.
-- catalyst is part of the key, so NOT NULL: an item without one is stored with '' (the
-- collector's rule). marketcap is NUMERIC (a decimal string in the API).
CREATE TABLE trading.fda_events (
    ticker        text        NOT NULL,
    drug          text        NOT NULL,
    catalyst      text        NOT NULL,
    start_date    date        NOT NULL,
    end_date      date        NOT NULL,
    status        text,
    description   text,
    indication    text,
    outcome       text,
    outcome_brief text,
    notes         text,
    source_link   text,
    has_options   boolean,
    marketcap     numeric,
    extra         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, drug, catalyst, start_date)
);
-- What is coming up (the calendar view, by target date).
CREATE INDEX fda_events_start_date ON trading.fda_events (start_date);

-- Revisable: the collector replaces a restated row (its old version goes to vvv.revisions), so
-- where sql/roles.sql made vvv_collector it may UPDATE this table (roles.sql grants the same).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vvv_collector') THEN
        GRANT UPDATE ON trading.fda_events TO vvv_collector;
    END IF;
END
$$;
