-- vvv's database roles: least privilege for each job. NOT a migration (vvv applies only the
-- files in the folders under sql/): an operator runs it by hand, as a superuser, in the
-- database vvv uses:
--
--     psql -v ON_ERROR_STOP=1 -d DBNAME -f sql/roles.sql
--
-- It is idempotent: running it again changes nothing and fails on nothing; run it again
-- whenever you like, e.g. after a database was migrated by another role. It runs in one
-- transaction: all of it or nothing.
--
--   vvv_owner      owns the schemas vvv and trading and everything in them; `vvv migrate`
--                  runs as it (it may create schemas in this database).
--   vvv_collector  what `vvv run` and `vvv once` need once the migrations are applied: read
--                  and insert data in trading; read and write vvv's operations tables; read
--                  vvv.schema_migrations; temporary tables (a batch is COPYed into one). No
--                  CREATE, no DDL, no DELETE/TRUNCATE of data, and UPDATE only of the
--                  revisable data sets' rows (a restated print or event replaces its row).
--   vvv_reader     for analysts: read trading, and vvv.runs for monitoring; nothing else.
--
-- The roles can log in but get no password here: set one with `\password vvv_owner` (etc.)
-- in psql. Roles are per server (cluster): a second database on the same server reuses them.
-- See docs/security.md.

BEGIN;

-- The roles. An existing role is left as it is (its attributes and password are kept).
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['vvv_owner', 'vvv_collector', 'vvv_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by this script running in another database
            END;
        END IF;
    END LOOP;
END
$$;

-- This database: the owner may create schemas (the migrations say CREATE SCHEMA IF NOT
-- EXISTS, which checks the right even when the schema exists); the collector needs TEMP.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %I TO vvv_owner', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO vvv_collector', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO vvv_reader', current_database());
END
$$;

-- The schemas, owned by vvv_owner, whether the migrations already made them or not.
DO $$
BEGIN
    IF to_regnamespace('vvv') IS NULL THEN
        CREATE SCHEMA vvv AUTHORIZATION vvv_owner;
    END IF;
    IF to_regnamespace('trading') IS NULL THEN
        CREATE SCHEMA trading AUTHORIZATION vvv_owner;
    END IF;
    -- The migrator's own table, exactly as vvv/migrate.py creates it (a test holds the two
    -- equal). Made here so that the collector can be given SELECT on it and nothing more: had
    -- the owner's first `vvv migrate` made it, the default privileges below would let the
    -- collector write it.
    IF to_regclass('vvv.schema_migrations') IS NULL THEN
        CREATE TABLE vvv.schema_migrations (
            name       text        PRIMARY KEY,
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
    END IF;
END
$$;
ALTER SCHEMA vvv OWNER TO vvv_owner;
ALTER SCHEMA trading OWNER TO vvv_owner;

-- Everything in vvv and trading goes to vvv_owner: a database migrated earlier by another
-- role (the embedded server's superuser, say) changes hands. Indexes, and the sequences of
-- identity and serial columns, follow their table; partitions are tables of their own.
DO $$
DECLARE
    rel record;
BEGIN
    FOR rel IN
        SELECT c.oid::regclass AS name,
               CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('vvv', 'trading')
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner <> 'vvv_owner'::regrole
          AND NOT (c.relkind = 'S' AND EXISTS (  -- a sequence owned by a column changes hands with its table
              SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
        ORDER BY c.oid
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO vvv_owner', rel.kind, rel.name);
    END LOOP;
END
$$;

-- Functions too: a SECURITY DEFINER one (vvv.option_trades_partition opens a day's partition
-- for the collector, which has no DDL) must run as vvv_owner, not as the superuser that made it.
DO $$
DECLARE
    fn record;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure AS name
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('vvv', 'trading') AND p.proowner <> 'vvv_owner'::regrole
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO vvv_owner', fn.name);
    END LOOP;
END
$$;

-- What exists now.
GRANT USAGE ON SCHEMA vvv, trading TO vvv_collector;
GRANT USAGE ON SCHEMA vvv, trading TO vvv_reader;  -- in vvv it reads vvv.runs only

GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA trading TO vvv_collector;
GRANT SELECT ON ALL TABLES IN SCHEMA trading TO vvv_reader;
-- The revisable data sets (Spec.revisable in vvv/collectors): the API restates their records,
-- and the collector replaces the row, keeping the old version in vvv.revisions.
DO $$
DECLARE
    rel text;
BEGIN
    FOREACH rel IN ARRAY ARRAY['trading.darkpool_trades', 'trading.economic_events', 'trading.earnings',
                               'trading.market_tide', 'trading.ohlc', 'trading.insider_transactions',
                               'trading.congress_trades', 'trading.fda_events'] LOOP
        IF to_regclass(rel) IS NOT NULL THEN
            EXECUTE format('GRANT UPDATE ON %s TO vvv_collector', rel);
        END IF;
    END LOOP;
END
$$;
-- No rights on sequences: inserting into a GENERATED ... AS IDENTITY column (vvv.runs.id,
-- vvv.rejects.id) needs none. (A `serial` column would: migrations use identity columns.)

DO $$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'vvv' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
        ORDER BY c.oid
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO vvv_collector', rel);
    END LOOP;
END
$$;
GRANT SELECT ON vvv.schema_migrations TO vvv_collector;
-- The stream opens a new trading day's partition through the owner's function (no DDL of its own).
DO $$
BEGIN
    IF to_regprocedure('vvv.option_trades_partition(date)') IS NOT NULL THEN
        GRANT EXECUTE ON FUNCTION vvv.option_trades_partition(date) TO vvv_collector;
    END IF;
END
$$;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON vvv.schema_migrations FROM vvv_collector;

DO $$
BEGIN
    IF to_regclass('vvv.runs') IS NOT NULL THEN
        GRANT SELECT ON vvv.runs TO vvv_reader;
    ELSE
        RAISE NOTICE 'vvv.runs does not exist yet: run this script again after the first `vvv migrate` so that vvv_reader may read it';
    END IF;
END
$$;

-- What later migrations create, as vvv_owner (new collectors' tables, new operations tables),
-- gets the same rights. A table created by another role gets none: run `vvv migrate` as
-- vvv_owner, or run this script again.
ALTER DEFAULT PRIVILEGES FOR ROLE vvv_owner IN SCHEMA trading GRANT SELECT, INSERT ON TABLES TO vvv_collector;
ALTER DEFAULT PRIVILEGES FOR ROLE vvv_owner IN SCHEMA trading GRANT SELECT ON TABLES TO vvv_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE vvv_owner IN SCHEMA vvv
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO vvv_collector;

COMMIT;
