-- 7: Compute conformance (issue 7). Server description, lock, tags; the flavor as it
-- was when the server was created (Nova embeds it at microversion 2.47); instance
-- actions and their events (os-instance-actions); quota classes (the defaults every
-- project's limits start from).
ALTER TABLE instances
  ADD COLUMN description text,
  ADD COLUMN locked_by text CHECK (locked_by IN ('owner', 'admin')),
  ADD COLUMN lock_reason text,
  -- NULL (no bytes in a row) until a create writes them: a wider row of every server
  -- tips the planner off the project index of the servers list (test_explain)
  ADD COLUMN flavor_name text,
  ADD COLUMN flavor_ephemeral_gb int,
  ADD COLUMN flavor_swap_mb int,
  ADD COLUMN flavor_extra_specs jsonb,
  ADD COLUMN reservation_id text,
  ADD COLUMN launch_index int,
  ADD COLUMN hostname text;
UPDATE instances i SET flavor_name = f.name, flavor_ephemeral_gb = f.ephemeral_gb,
  flavor_swap_mb = f.swap_mb, flavor_extra_specs = f.extra_specs
  FROM flavors f WHERE f.id = i.flavor_id;
CREATE TABLE instance_tags (
  instance_id text NOT NULL REFERENCES instances(id) ON DELETE CASCADE, tag text NOT NULL,
  PRIMARY KEY (instance_id, tag));
CREATE INDEX instance_tags_tag ON instance_tags(tag);
-- one row per API request that acted on a server (request_id = the API's req-<uuid>)
CREATE TABLE instance_actions (
  id bigserial PRIMARY KEY, instance_id text NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  request_id text NOT NULL, action text NOT NULL, project_id text NOT NULL,
  user_id text NOT NULL, message text, start_time timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX instance_actions_instance ON instance_actions(instance_id, start_time DESC, id DESC);
CREATE INDEX instance_actions_request ON instance_actions(request_id);
-- what carried the action out: one event per task (task_id), finished by the scheduler
-- when the task's result (or its give-up) is recorded
CREATE TABLE instance_action_events (
  id bigserial PRIMARY KEY, action_id bigint NOT NULL REFERENCES instance_actions(id) ON DELETE CASCADE,
  event text NOT NULL, task_id text, host text, result text, traceback text,
  start_time timestamptz NOT NULL DEFAULT now(), finish_time timestamptz);
CREATE INDEX instance_action_events_task ON instance_action_events(task_id) WHERE finish_time IS NULL;
CREATE TABLE quota_classes (
  class_name text NOT NULL, resource text NOT NULL, hard_limit bigint NOT NULL,
  PRIMARY KEY (class_name, resource));
-- os-flavor-access: the projects a private flavor is shared with
CREATE TABLE flavor_projects (
  flavor_id text NOT NULL REFERENCES flavors(id) ON DELETE CASCADE, project_id text NOT NULL,
  PRIMARY KEY (flavor_id, project_id));
-- The flavor list may be a cached read (issue 6's cache generation, migration 0004):
-- sharing a flavor changes what a member lists, so flavor_projects bumps the generation
-- too. Checked rather than assumed, so this file applies without 0004 as well.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'cache_bump') THEN
    CREATE TRIGGER flavor_projects_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
      ON flavor_projects FOR EACH STATEMENT EXECUTE FUNCTION cache_bump();
  END IF;
END $$;
