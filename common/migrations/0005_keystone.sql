-- 5: Keystone conformance (issue 7): domains (names of projects, users and groups
-- unique per domain), extra attributes and tags, groups and their members, grants on
-- domains and to groups, the service catalog (regions, services, endpoints),
-- application credentials, and how a token was made (its methods, its domain scope,
-- its application credential). Every change that can withdraw a cached token's
-- authority appends a revocation event (migration 3); a catalog change appends one
-- that matches no token, so every nubo-api rebuilds its cached catalog.
CREATE TABLE domains (
  id text PRIMARY KEY, name text NOT NULL UNIQUE, description text NOT NULL DEFAULT '',
  enabled boolean NOT NULL DEFAULT true, extra jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO domains (id, name, description) VALUES ('default', 'Default', 'The default domain');

ALTER TABLE projects DROP CONSTRAINT projects_name_key,
  ADD CONSTRAINT projects_domain_name UNIQUE (domain_id, name),
  ADD CONSTRAINT projects_domain FOREIGN KEY (domain_id) REFERENCES domains(id) ON DELETE CASCADE,
  ADD extra jsonb NOT NULL DEFAULT '{}', ADD tags text[] NOT NULL DEFAULT '{}',
  ADD parent_id text REFERENCES projects(id); -- NULL: its domain is its parent
CREATE INDEX projects_parent ON projects(parent_id) WHERE parent_id IS NOT NULL;
ALTER TABLE roles ADD description text;
-- a role that implies others (Keystone's role inference): a token holding the prior
-- role holds the implied ones too; the built-in chain admin > member > reader is
-- written here for existing roles and by nubo-manage bootstrap for new databases
CREATE TABLE implied_roles (
  prior_role_id text NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  implied_role_id text NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (prior_role_id, implied_role_id), CHECK (prior_role_id <> implied_role_id));
INSERT INTO implied_roles SELECT p.id, c.id FROM roles p, roles c
  WHERE (p.name, c.name) IN (('admin', 'member'), ('member', 'reader'));
ALTER TABLE users DROP CONSTRAINT users_name_key,
  ADD CONSTRAINT users_domain_name UNIQUE (domain_id, name),
  ADD CONSTRAINT users_domain FOREIGN KEY (domain_id) REFERENCES domains(id) ON DELETE CASCADE,
  ADD extra jsonb NOT NULL DEFAULT '{}';

CREATE TABLE groups (
  id text PRIMARY KEY, name text NOT NULL,
  domain_id text NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  description text NOT NULL DEFAULT '', created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (domain_id, name));
CREATE TABLE group_members (
  group_id text NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id));
CREATE INDEX group_members_user ON group_members(user_id);

-- a grant: one actor (a user or a group) holds a role on one target (a project or a
-- domain); the rows of the first release are user-on-project grants
ALTER TABLE role_assignments DROP CONSTRAINT role_assignments_pkey,
  ALTER user_id DROP NOT NULL, ALTER project_id DROP NOT NULL,
  ADD group_id text REFERENCES groups(id) ON DELETE CASCADE,
  ADD domain_id text REFERENCES domains(id) ON DELETE CASCADE,
  ADD CONSTRAINT role_assignments_one_actor CHECK ((user_id IS NULL) <> (group_id IS NULL)),
  ADD CONSTRAINT role_assignments_one_target CHECK ((project_id IS NULL) <> (domain_id IS NULL)),
  ADD CONSTRAINT role_assignments_unique
    UNIQUE NULLS NOT DISTINCT (user_id, group_id, project_id, domain_id, role_id);
CREATE INDEX role_assignments_group ON role_assignments(group_id) WHERE group_id IS NOT NULL;
CREATE INDEX role_assignments_project ON role_assignments(project_id);

CREATE TABLE regions (
  id text PRIMARY KEY, description text NOT NULL DEFAULT '',
  parent_region_id text REFERENCES regions(id), extra jsonb NOT NULL DEFAULT '{}');
CREATE TABLE services (
  id text PRIMARY KEY, type text NOT NULL, name text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '', enabled boolean NOT NULL DEFAULT true,
  extra jsonb NOT NULL DEFAULT '{}');
CREATE TABLE endpoints (
  id text PRIMARY KEY, service_id text NOT NULL REFERENCES services(id) ON DELETE CASCADE,
  region_id text REFERENCES regions(id),
  interface text NOT NULL CHECK (interface IN ('public', 'internal', 'admin')),
  url text NOT NULL, enabled boolean NOT NULL DEFAULT true,
  extra jsonb NOT NULL DEFAULT '{}');

CREATE TABLE application_credentials (
  id text PRIMARY KEY, user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name text NOT NULL, description text, secret_hash text NOT NULL,
  expires_at timestamptz, unrestricted boolean NOT NULL DEFAULT false,
  role_ids text[] NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, name));

-- what a token remembers: the methods that proved its user (kept through
-- re-scoping), a domain scope, the application credential it came from
ALTER TABLE tokens ADD domain_id text REFERENCES domains(id) ON DELETE CASCADE,
  ADD methods text NOT NULL DEFAULT 'password',
  ADD app_cred_id text REFERENCES application_credentials(id) ON DELETE CASCADE;

-- a grant to a group reaches every member; the first release's rows keep their user
CREATE OR REPLACE FUNCTION revocation_on_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  a role_assignments;
BEGIN
  IF TG_OP = 'DELETE' THEN a := OLD; ELSE a := NEW; END IF;
  IF a.user_id IS NOT NULL THEN
    PERFORM revocation_event(NULL, a.user_id, NULL);
  ELSE
    PERFORM revocation_event(NULL, m.user_id, NULL) FROM group_members m
      WHERE m.group_id = a.group_id;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.user_id IS DISTINCT FROM NEW.user_id THEN
    PERFORM revocation_event(NULL, OLD.user_id, NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION revocation_on_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM revocation_event(NULL, NEW.user_id, NULL);
  ELSE
    PERFORM revocation_event(NULL, OLD.user_id, NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER group_members_revocation AFTER INSERT OR UPDATE OR DELETE ON group_members
  FOR EACH ROW EXECUTE FUNCTION revocation_on_member();
-- a domain disabled, renamed or deleted: every cached token (users, projects and
-- scopes of the domain are too many to list)
CREATE FUNCTION revocation_on_domain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.enabled IS DISTINCT FROM OLD.enabled
     OR NEW.name IS DISTINCT FROM OLD.name THEN
    PERFORM revocation_event(NULL, NULL, NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER domains_revocation AFTER UPDATE OR DELETE ON domains
  FOR EACH ROW EXECUTE FUNCTION revocation_on_domain();
-- an inference rule changed what a role means: every cached token
CREATE FUNCTION revocation_on_inference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM revocation_event(NULL, NULL, NULL);
  RETURN NULL;
END $$;
CREATE TRIGGER implied_roles_revocation AFTER INSERT OR UPDATE OR DELETE ON implied_roles
  FOR EACH STATEMENT EXECUTE FUNCTION revocation_on_inference();
-- the catalog changed: an event no token matches (' catalog' is no project id)
CREATE FUNCTION revocation_on_catalog() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM revocation_event(NULL, NULL, ' catalog');
  RETURN NULL;
END $$;
CREATE TRIGGER regions_revocation AFTER INSERT OR UPDATE OR DELETE ON regions
  FOR EACH STATEMENT EXECUTE FUNCTION revocation_on_catalog();
CREATE TRIGGER services_revocation AFTER INSERT OR UPDATE OR DELETE ON services
  FOR EACH STATEMENT EXECUTE FUNCTION revocation_on_catalog();
CREATE TRIGGER endpoints_revocation AFTER INSERT OR UPDATE OR DELETE ON endpoints
  FOR EACH STATEMENT EXECUTE FUNCTION revocation_on_catalog();
-- Keystone's credentials (/v3/credentials) and the OS-EC2 ones made through it: an
-- EC2 credential is type 'ec2' with a blob {"access", "secret", "trust_id"} and the
-- id sha256(access), as Keystone makes it
CREATE TABLE credentials (
  id text PRIMARY KEY, user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id text REFERENCES projects(id) ON DELETE CASCADE, type text NOT NULL,
  blob text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX credentials_user ON credentials(user_id);
-- Keystone's policy store (/v3/policies): blobs of a type kept for other services;
-- nubo-api's own RBAC does not read them
CREATE TABLE policies (
  id text PRIMARY KEY, type text NOT NULL, blob text NOT NULL,
  extra jsonb NOT NULL DEFAULT '{}');
