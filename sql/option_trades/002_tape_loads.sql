-- One row per New York trading day of the full tape: its last load or attempt. `vvv status`,
-- /metrics and the status page read the last tape loaded and the failures from here; the
-- nightly job reads which days are done. http_status and api_answer keep what the API said
-- (404 not published / holiday, 422 market closed or missing_access, 403 beyond the plan's
-- history) so that a failure is explained in the API's own words.
CREATE TABLE vvv.tape_loads (
    day         date        PRIMARY KEY,
    -- pending: the API answered 404 (not published yet) and the nightly job tries again later
    status      text        NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'pending')),
    rows        bigint      NOT NULL DEFAULT 0,
    rejects     integer     NOT NULL DEFAULT 0,
    bytes       bigint      NOT NULL DEFAULT 0,   -- the ZIP's size as downloaded
    http_status integer,                          -- the API's answer to the tape request
    api_answer  text,                             -- its body when it refused, shortened
    error       text,
    attempts    integer     NOT NULL DEFAULT 1,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    loaded_at   timestamptz                       -- when the day's partition was last swapped in
);

-- The swap of a day's partition: the load table (trading.option_trades_load_YYYYMMDD, made with
-- the partition's shape, its rows and indexes in place, its CHECK on executed_at matching the
-- day's bounds so that ATTACH need not scan it) replaces the day's partition, if any, in one
-- transaction: a reader sees the old day or the new one, never half. DDL: it runs as the owner
-- of trading.option_trades (the role that migrates), never as the collector role; no one else
-- may call it. Returns whether a partition was replaced.
CREATE FUNCTION vvv.option_trades_swap(day date) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    name     text := format('option_trades_%s', to_char(day, 'YYYYMMDD'));
    staged   text := format('option_trades_load_%s', to_char(day, 'YYYYMMDD'));
    replaced boolean;
    idx      record;
BEGIN
    -- The parent first, so that a reader's query waits before it starts, never between two steps.
    LOCK TABLE trading.option_trades IN ACCESS EXCLUSIVE MODE;
    replaced := to_regclass(format('trading.%I', name)) IS NOT NULL;
    IF replaced THEN
        EXECUTE format('ALTER TABLE trading.option_trades DETACH PARTITION trading.%I', name);
        EXECUTE format('DROP TABLE trading.%I', name);
    END IF;
    EXECUTE format('ALTER TABLE trading.%I RENAME TO %I', staged, name);
    -- Its indexes are named after the load table: named after the partition, the next load's are free.
    FOR idx IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = format('trading.%I', name)::regclass LOOP
        EXECUTE format('ALTER INDEX trading.%I RENAME TO %I', idx.relname, replace(idx.relname, staged, name));
    END LOOP;
    EXECUTE format(
        'ALTER TABLE trading.option_trades ATTACH PARTITION trading.%I FOR VALUES FROM (%L) TO (%L)',
        name,
        (day::timestamp AT TIME ZONE 'America/New_York'),
        ((day + 1)::timestamp AT TIME ZONE 'America/New_York'));
    RETURN replaced;
END $$;
REVOKE EXECUTE ON FUNCTION vvv.option_trades_swap(date) FROM PUBLIC;

-- Retention drops whole partitions (no DELETE, no bloat): every day before `before`, the
-- stream's and the tape's alike. Returns the days dropped. DDL: as the owner, like the swap.
CREATE FUNCTION vvv.option_trades_drop_before(before date) RETURNS SETOF date
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.relname, to_date(substr(c.relname, 15), 'YYYYMMDD') AS day
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'trading.option_trades'::regclass AND n.nspname = 'trading'
          AND c.relname ~ '^option_trades_[0-9]{8}$'
        ORDER BY c.relname
    LOOP
        CONTINUE WHEN part.day >= before;
        EXECUTE format('DROP TABLE trading.%I', part.relname);
        RETURN NEXT part.day;
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION vvv.option_trades_drop_before(date) FROM PUBLIC;
