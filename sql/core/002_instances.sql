-- Each `vvv run` process says here what it is doing, so `vvv status` can show the active
-- instance, any standby, and when each collector is due next.
CREATE TABLE vvv.instances (
    name         text        PRIMARY KEY,  -- "<host>:<pid>"
    role         text        NOT NULL CHECK (role IN ('active', 'standby', 'stopped')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    schedule     jsonb       NOT NULL DEFAULT '{}'::jsonb
);
