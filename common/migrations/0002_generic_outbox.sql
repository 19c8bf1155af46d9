-- 2: the task outbox for every resource kind (issue 5). A task names its resource by
-- kind and id (no foreign key: a network or volume id is not an instance id), the
-- agent kind and host that run it, a typed payload, and a deadline after which the
-- scheduler fails or completes it. Existing rows are instance tasks of compute agents.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_instance_id_fkey;
ALTER TABLE tasks RENAME COLUMN instance_id TO resource_id;
ALTER TABLE tasks
  ADD COLUMN resource_kind text NOT NULL DEFAULT 'instance',
  ADD COLUMN agent_kind text NOT NULL DEFAULT 'compute',
  ADD COLUMN payload jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN deadline timestamptz;
ALTER TABLE tasks ALTER COLUMN resource_kind DROP DEFAULT;
ALTER TABLE tasks ALTER COLUMN agent_kind DROP DEFAULT;
CREATE INDEX tasks_resource ON tasks(resource_kind, resource_id);
CREATE INDEX tasks_deadline ON tasks(deadline) WHERE status IN ('pending','dispatched');
-- The agents table already has kind (default 'compute'), which the scheduler now
-- writes from the hello; a kind with capacities of its own adds its columns then.
