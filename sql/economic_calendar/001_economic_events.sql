-- The economic calendar (GET /api/market/economic-calendar). id is the SHA-256 of every
-- field: a revised forecast or previous value is a new row, so the history of an event's
-- numbers is kept; the newest collected_at per (event, time) is the current view.
-- forecast and prev stay text: the API writes them with units ("0.3%", "69.4", "$1.2B").
CREATE TABLE trading.economic_events (
    id              text        PRIMARY KEY,
    event           text        NOT NULL,
    time            timestamptz NOT NULL,
    type            text,
    reported_period text,
    forecast        text,
    prev            text,
    extra           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX economic_events_time ON trading.economic_events (time DESC);
