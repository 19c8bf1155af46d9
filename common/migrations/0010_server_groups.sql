-- Nova's server groups (os-server-groups): a named policy a project's servers join at
-- create (scheduler hint "group"), which the scheduler's placement enforces. One
-- policy per group as Nova keeps it since 2.64; max_server_per_host is the
-- anti-affinity rule (NULL: Nova's default of 1).
CREATE TABLE server_groups (
  id text PRIMARY KEY, name text NOT NULL, project_id text NOT NULL, user_id text NOT NULL,
  policy text NOT NULL CHECK (policy IN ('affinity', 'anti-affinity', 'soft-affinity',
                                         'soft-anti-affinity')),
  max_server_per_host int CHECK (max_server_per_host >= 1),
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX server_groups_project ON server_groups(project_id, created_at, id);
-- A server is in at most one group (Nova's rule); a deleted server leaves it.
CREATE TABLE server_group_members (
  instance_id text PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
  group_id text NOT NULL REFERENCES server_groups(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX server_group_members_group ON server_group_members(group_id);
CREATE FUNCTION server_group_member_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM server_group_members WHERE instance_id = NEW.id;
  RETURN NEW;
END $$;
CREATE TRIGGER instances_leave_server_group AFTER UPDATE OF deleted ON instances
  FOR EACH ROW WHEN (NEW.deleted AND NOT OLD.deleted) EXECUTE FUNCTION server_group_member_gone();
