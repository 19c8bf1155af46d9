-- 3: revocation events (issue 6). nubo-api keeps validated tokens in memory; every
-- change that can withdraw a token's authority (revoke, user disable/delete/password,
-- project disable/delete, any role assignment change) appends an event here from a
-- trigger, whatever statement or tool made the change, and notifies channel
-- nubo_revocation. Each nubo-api follows the events by id. The advisory lock makes
-- the events commit in id order, so a follower reading "id > last seen" misses none.
CREATE TABLE revocation_events (
  id bigserial PRIMARY KEY, token_hash text, user_id text, project_id text,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION revocation_event(p_hash text, p_user text, p_project text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7236601);
  INSERT INTO revocation_events (token_hash, user_id, project_id)
    VALUES (p_hash, p_user, p_project);
  PERFORM pg_notify('nubo_revocation', '');
END $$;
-- a token revoked, cut short, or removed while still live (deleting expired ones,
-- as token issue does to keep the table small, needs no event)
CREATE FUNCTION revocation_on_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.expires_at > now() AND NOT OLD.revoked THEN
      PERFORM revocation_event(OLD.hash, NULL, NULL);
    END IF;
  ELSIF (NEW.revoked AND NOT OLD.revoked) OR NEW.expires_at < OLD.expires_at
     OR NEW.user_id IS DISTINCT FROM OLD.user_id
     OR NEW.project_id IS DISTINCT FROM OLD.project_id THEN
    PERFORM revocation_event(OLD.hash, NULL, NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER tokens_revocation AFTER UPDATE OR DELETE ON tokens
  FOR EACH ROW EXECUTE FUNCTION revocation_on_token();
CREATE FUNCTION revocation_on_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM revocation_event(NULL, OLD.id, NULL);
  ELSIF NEW.enabled IS DISTINCT FROM OLD.enabled
     OR NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
    PERFORM revocation_event(NULL, OLD.id, NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER users_revocation AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION revocation_on_user();
CREATE FUNCTION revocation_on_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.enabled IS DISTINCT FROM OLD.enabled
     OR NEW.name IS DISTINCT FROM OLD.name THEN
    PERFORM revocation_event(NULL, NULL, OLD.id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER projects_revocation AFTER UPDATE OR DELETE ON projects
  FOR EACH ROW EXECUTE FUNCTION revocation_on_project();
CREATE FUNCTION revocation_on_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM revocation_event(NULL, NEW.user_id, NULL);
  ELSE
    PERFORM revocation_event(NULL, OLD.user_id, NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER role_assignments_revocation AFTER INSERT OR UPDATE OR DELETE
  ON role_assignments FOR EACH ROW EXECUTE FUNCTION revocation_on_assignment();
-- users renamed change what a cached token says its user is called
CREATE FUNCTION revocation_on_user_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name IS DISTINCT FROM OLD.name THEN
    PERFORM revocation_event(NULL, OLD.id, NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER users_rename_revocation AFTER UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION revocation_on_user_name();
CREATE FUNCTION revocation_on_role() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.name IS DISTINCT FROM OLD.name THEN
    PERFORM revocation_event(NULL, NULL, NULL); -- every cached token: a role's meaning changed
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER roles_revocation AFTER UPDATE OR DELETE ON roles
  FOR EACH ROW EXECUTE FUNCTION revocation_on_role();
-- Every following nubo-api reports here the last event it applied (and refreshes
-- seen_at at least every second), so a process that revoked can wait until every
-- live follower has applied it before it answers.
CREATE TABLE revocation_followers (
  id text PRIMARY KEY, last_id bigint NOT NULL, seen_at timestamptz NOT NULL DEFAULT now());
