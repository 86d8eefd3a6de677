-- Live stock prices from the socket's price:TICKER channels, one row per ticker and instant.
CREATE TABLE trading.stock_prices (
    ticker       text        NOT NULL,
    time         timestamptz NOT NULL,
    close        numeric     NOT NULL,
    volume       bigint,
    extra        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    collected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, time)
);
