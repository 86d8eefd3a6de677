-- Revisions: a data set declared revisable (dark pool prints, economic calendar events)
-- keeps one current row per record; when the API serves a record again with other content
-- (a print canceled after it was reported, a revised forecast), the row is replaced and the
-- version it replaces is kept here, whole (collected_at included), as JSON. key is the
-- record's key as text (tracking_id, or the event's id).
CREATE TABLE vvv.revisions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collector   text        NOT NULL,
    key         text        NOT NULL,
    old_row     jsonb       NOT NULL,
    replaced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revisions_collector_key ON vvv.revisions (collector, key, replaced_at);

-- How many stored records a run replaced with a new version.
ALTER TABLE vvv.runs ADD COLUMN revised integer NOT NULL DEFAULT 0;
