-- 8: the API request a task was written for (issue 7), "req-<uuid>" or NULL for tasks
-- the scheduler or nubo-manage wrote. Sent in the bus envelope with the task and
-- logged by every process that handles it.
ALTER TABLE tasks ADD COLUMN request_id text
  CHECK (request_id IS NULL OR request_id ~ '^req-[0-9a-f-]{36}$');
