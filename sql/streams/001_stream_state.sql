-- What each socket channel is doing right now, for `vvv status` and the status page: written by
-- the process that streams it (`vvv stream`, or `vvv run` with [stream] channels) every few
-- seconds. What it stored and the gaps it had are in vvv.runs (collector 'stream:<channel>').
CREATE TABLE vvv.streams (
    channel    text        PRIMARY KEY,
    instance   text,
    run_id     bigint,  -- its run in vvv.runs (no foreign key: runs are pruned and truncated on their own)
    updated_at timestamptz NOT NULL DEFAULT now(),
    state      jsonb       NOT NULL
);
