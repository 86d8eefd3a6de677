-- News headlines (GET /api/news/headlines). id is the SHA-256 of (source, headline,
-- created_at in UTC): the API gives headlines no id of their own.
CREATE TABLE trading.news_headlines (
    id           text        PRIMARY KEY,
    created_at   timestamptz NOT NULL,
    headline     text        NOT NULL,
    source       text        NOT NULL,
    is_major     boolean,
    sentiment    text,
    tags         text[],
    tickers      text[],
    meta         jsonb,
    extra        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX news_headlines_created_at ON trading.news_headlines (created_at DESC);
CREATE INDEX news_headlines_tickers ON trading.news_headlines USING gin (tickers);
