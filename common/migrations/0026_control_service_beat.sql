-- 29: a control service's heartbeat. Each nubo-scheduler refreshes seen_at while it
-- runs and records after how many seconds of silence it counts as gone (its
-- agent_timeout); os-hosts lists only the live ones, so a scheduler moved to another
-- host or renamed no longer stays listed forever.
ALTER TABLE control_services
  ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN down_after_s int NOT NULL DEFAULT 30 CHECK (down_after_s BETWEEN 1 AND 86400);
