-- Each distinct raw item is one reject per collector, however many passes re-read it
-- (overlapping sweeps read the same malformed item again and again). raw_md5 identifies the
-- item as received; rejected_at is when it was first seen, last_seen when last, and reason
-- the newest reason given (a new vvv may reject the same item for another reason).
ALTER TABLE vvv.rejects ADD COLUMN raw_md5 uuid GENERATED ALWAYS AS (md5(raw)::uuid) STORED;
ALTER TABLE vvv.rejects ADD COLUMN last_seen timestamptz;

-- Collapse the copies already stored: the first seen is kept, with the newest reason.
WITH copies AS (
    SELECT collector, raw_md5,
           (array_agg(id ORDER BY rejected_at, id))[1] AS keep,
           max(rejected_at) AS last_seen,
           (array_agg(reason ORDER BY rejected_at DESC, id DESC))[1] AS reason
    FROM vvv.rejects
    GROUP BY collector, raw_md5
)
UPDATE vvv.rejects r SET last_seen = c.last_seen, reason = c.reason
FROM copies c WHERE r.id = c.keep;
DELETE FROM vvv.rejects WHERE last_seen IS NULL;

ALTER TABLE vvv.rejects ALTER COLUMN last_seen SET DEFAULT now(), ALTER COLUMN last_seen SET NOT NULL;
CREATE UNIQUE INDEX rejects_collector_raw ON vvv.rejects (collector, raw_md5);
