-- A pass whose batches waited in the local spool while the database was down ends as
-- 'spooled' once they are stored; `spooled` counts the batches that took that road.
ALTER TABLE vvv.runs DROP CONSTRAINT runs_status_check;
ALTER TABLE vvv.runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'ok', 'partial', 'failed', 'spooled'));
ALTER TABLE vvv.runs ADD COLUMN spooled integer NOT NULL DEFAULT 0;
