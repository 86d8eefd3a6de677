-- Operations tables: what vvv did (runs), where each collector stands (cursors),
-- and every item it could not accept (rejects). vvv.schema_migrations is created
-- by the migrator itself, before this file runs.
CREATE SCHEMA IF NOT EXISTS vvv;
CREATE SCHEMA IF NOT EXISTS trading;

CREATE TABLE vvv.runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collector   text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text        NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    requests    integer     NOT NULL DEFAULT 0,
    fetched     integer     NOT NULL DEFAULT 0,
    inserted    integer     NOT NULL DEFAULT 0,
    duplicates  integer     NOT NULL DEFAULT 0,
    rejects     integer     NOT NULL DEFAULT 0,
    error       text,
    notes       text,  -- warnings that are not errors, e.g. a possible gap the API gives no way to fill
    api_budget  jsonb,
    -- "run <host>:<pid>" for passes of the scheduler, NULL for `vvv once`
    instance    text
);
CREATE INDEX runs_collector_started_at ON vvv.runs (collector, started_at DESC);

CREATE TABLE vvv.cursors (
    collector  text        NOT NULL,
    scope      text        NOT NULL DEFAULT '',
    position   jsonb       NOT NULL,
    run_id     bigint      REFERENCES vvv.runs (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collector, scope)
);

-- raw is the item as JSON text, not jsonb: jsonb cannot hold \u0000, and a reject must keep
-- exactly what the API sent.
CREATE TABLE vvv.rejects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collector   text        NOT NULL,
    run_id      bigint      REFERENCES vvv.runs (id) ON DELETE SET NULL,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL,
    raw         text        NOT NULL
);
CREATE INDEX rejects_collector_rejected_at ON vvv.rejects (collector, rejected_at DESC);
