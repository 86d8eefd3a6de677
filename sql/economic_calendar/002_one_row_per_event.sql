-- One row per event. Until now id hashed every field, so each revised forecast was a new row
-- and the newest collected_at per (event, time) was the current view. An event is now
-- identified by its name and time alone, and the data set is revisable (vvv.revisions, from
-- core/006): the newest version of each event becomes its row, and every older version goes
-- to vvv.revisions, replaced when the version after it was collected.
--
-- event_key is the id vvv computes (economic_calendar.event_id): the SHA-256 of the JSON
-- array [event, time in UTC as Python's isoformat writes it], compact, text unescaped beyond
-- what JSON requires; to_json escapes a string exactly as Python's json.dumps does.
ALTER TABLE trading.economic_events ADD COLUMN event_key text;
UPDATE trading.economic_events SET event_key = encode(sha256(convert_to(
    '[' || to_json(event)::text || ',' || to_json(
        to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM time) % 1000000 <> 0
                THEN to_char(time AT TIME ZONE 'UTC', '.US') ELSE '' END
        || '+00:00')::text || ']',
    'UTF8')), 'hex');

-- The older versions, as rows of the new table (their id is the event's), oldest first.
INSERT INTO vvv.revisions (collector, key, old_row, replaced_at)
SELECT 'economic_calendar', v.event_key, (to_jsonb(v.e) - 'event_key') || jsonb_build_object('id', v.event_key),
       v.replaced_at
FROM (
    SELECT e, e.event_key, e.collected_at, e.id,
           lead(e.collected_at) OVER (PARTITION BY e.event_key ORDER BY e.collected_at, e.id) AS replaced_at,
           row_number() OVER (PARTITION BY e.event_key ORDER BY e.collected_at DESC, e.id DESC) AS newness
    FROM trading.economic_events e
) v
WHERE v.newness > 1
ORDER BY v.event_key, v.collected_at, v.id;

DELETE FROM trading.economic_events e
WHERE EXISTS (SELECT 1 FROM trading.economic_events n
              WHERE n.event_key = e.event_key AND (n.collected_at, n.id) > (e.collected_at, e.id));
UPDATE trading.economic_events SET id = event_key;
ALTER TABLE trading.economic_events DROP COLUMN event_key;

-- The revisable data sets' tables (this one, and trading.darkpool_trades, whose migrations
-- ran before this one) get their rows replaced: where sql/roles.sql made vvv_collector, it
-- may now UPDATE them (and only them; sql/roles.sql grants the same when run later).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vvv_collector') THEN
        GRANT UPDATE ON trading.economic_events, trading.darkpool_trades TO vvv_collector;
    END IF;
END
$$;
