-- 11: Keystone's remaining identity surface (issue 7): grants inherited to the projects
-- below their target (OS-INHERIT), grants on the system, domain-specific roles, system
-- scoped tokens, endpoint groups (OS-EP-FILTER), domain configuration and OAuth1
-- consumers.

-- a grant is on exactly one target: a project, a domain or the system ('all', as
-- Keystone names the one system); an inherited grant ("inherited_to_projects") gives
-- its role on every project below its target (every project of a domain, every project
-- of a project's subtree) and not on the target itself
ALTER TABLE role_assignments ADD system text CHECK (system = 'all'),
  ADD inherited boolean NOT NULL DEFAULT false,
  DROP CONSTRAINT role_assignments_one_target,
  ADD CONSTRAINT role_assignments_one_target CHECK (num_nonnulls(project_id, domain_id, system) = 1),
  ADD CONSTRAINT role_assignments_inherited CHECK (NOT inherited OR system IS NULL),
  DROP CONSTRAINT role_assignments_unique,
  ADD CONSTRAINT role_assignments_unique UNIQUE NULLS NOT DISTINCT
    (user_id, group_id, project_id, domain_id, system, role_id, inherited);
CREATE INDEX role_assignments_domain ON role_assignments(domain_id) WHERE domain_id IS NOT NULL;

-- the projects above pid (its parent, the parent's parent, ...), never pid itself
CREATE FUNCTION project_ancestors(pid text) RETURNS TABLE (id text) LANGUAGE sql STABLE AS $$
  WITH RECURSIVE up (id, depth) AS (
    SELECT parent_id, 1 FROM projects WHERE projects.id = pid AND parent_id IS NOT NULL
    UNION ALL SELECT p.parent_id, up.depth + 1 FROM projects p JOIN up ON p.id = up.id
    WHERE p.parent_id IS NOT NULL AND up.depth < 64)
  SELECT up.id FROM up $$;

-- the ids of the roles granted to user uid, directly or through a group, that reach a
-- token's scope: project pid, domain did or the system (sys); implied roles are not
-- added here
CREATE FUNCTION user_scope_grants(uid text, pid text, did text, sys boolean)
  RETURNS TABLE (role_id text) LANGUAGE sql STABLE AS $$
  SELECT ra.role_id FROM role_assignments ra
  WHERE (ra.user_id = uid OR ra.group_id IN
         (SELECT gm.group_id FROM group_members gm WHERE gm.user_id = uid))
    AND (NOT ra.inherited AND (ra.project_id = pid OR ra.domain_id = did
                               OR sys AND ra.system IS NOT NULL)
         OR ra.inherited AND pid IS NOT NULL
            AND (ra.domain_id = (SELECT p.domain_id FROM projects p WHERE p.id = pid)
                 OR ra.project_id IN (SELECT a.id FROM project_ancestors(pid) a))) $$;

-- a role of a domain (Keystone's domain-specific roles): its name is unique in that
-- domain; it never appears in a token itself, only the global roles it implies do
ALTER TABLE roles DROP CONSTRAINT roles_name_key,
  ADD domain_id text REFERENCES domains(id) ON DELETE CASCADE,
  ADD CONSTRAINT roles_domain_name UNIQUE NULLS NOT DISTINCT (domain_id, name);

-- a token scoped to the system
ALTER TABLE tokens ADD system boolean NOT NULL DEFAULT false;

-- OS-EP-FILTER: endpoint groups (a filter on the catalog's endpoints) and the projects
-- they are associated with; endpoints associated with projects one by one
CREATE TABLE endpoint_groups (
  id text PRIMARY KEY, name text NOT NULL, description text NOT NULL DEFAULT '',
  filters jsonb NOT NULL DEFAULT '{}');
CREATE TABLE endpoint_group_projects (
  endpoint_group_id text NOT NULL REFERENCES endpoint_groups(id) ON DELETE CASCADE,
  project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  PRIMARY KEY (endpoint_group_id, project_id));
CREATE TABLE endpoint_projects (
  endpoint_id text NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  PRIMARY KEY (endpoint_id, project_id));

-- a domain's configuration: {"group": {"option": value}} as given (Keystone stores it
-- without drivers here: one SQL identity backend), sensitive options apart so that no
-- read answers them
CREATE TABLE domain_configs (
  domain_id text PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
  config jsonb NOT NULL DEFAULT '{}', sensitive jsonb NOT NULL DEFAULT '{}');

-- OS-OAUTH1 consumers: the secret is shown once at creation, only its hash is kept
CREATE TABLE oauth_consumers (
  id text PRIMARY KEY, description text, secret_hash text NOT NULL,
  extra jsonb NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now());
