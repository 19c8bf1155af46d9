-- 4: indexes the hot list queries walk in their own order (issue 6), so a page costs
-- the rows it shows, not a sort of every row that matches. tests/e2e/test_explain.py
-- checks the plans of the queries nubo-api really sends against a seeded database.
-- Servers (server.c): WHERE NOT deleted AND project_id = $n [AND (created_at, id) <
-- marker's] ORDER BY created_at DESC, id DESC LIMIT $m. The project index of 0001 is a
-- prefix of the new one, so it goes.
CREATE INDEX instances_project_created ON instances (project_id, created_at DESC, id DESC)
  WHERE NOT deleted;
DROP INDEX IF EXISTS instances_project;
-- ... and the same across projects (an admin's all_tenants listing).
CREATE INDEX instances_created ON instances (created_at DESC, id DESC) WHERE NOT deleted;
-- Images (image.c): ORDER BY created_at DESC, id DESC (the default sort), walked in
-- order where the visibility test passes most rows (an admin), and the per-owner
-- count of the image quota.
CREATE INDEX images_created ON images (created_at, id);
CREATE INDEX images_owner ON images (owner);
-- A project's own listing (visibility = 'public' OR owner = $n) reads the public and
-- community images and its own through these two and sorts only those.
CREATE INDEX images_shared ON images (created_at, id)
  WHERE visibility IN ('public', 'community');
-- Flavors (ORDER BY id: the primary key) and keypairs (WHERE user_id ORDER BY name:
-- the UNIQUE (user_id, name) index) are served by what 0001 made.
-- The cache generation (issue 6): nubo-api keeps the results of reads of these tables
-- (flavors) in memory while this number stays the same; every statement that changes
-- one of them bumps it and notifies channel nubo_cache, so each nubo-api's follower
-- drops what it kept (common/db.c, db_cache_follow).
CREATE TABLE cache_generation (
  id int PRIMARY KEY DEFAULT 1 CHECK (id = 1), gen bigint NOT NULL DEFAULT 0);
INSERT INTO cache_generation DEFAULT VALUES;
CREATE FUNCTION cache_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cache_generation SET gen = gen + 1;
  PERFORM pg_notify('nubo_cache', '');
  RETURN NULL;
END $$;
CREATE TRIGGER flavors_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON flavors
  FOR EACH STATEMENT EXECUTE FUNCTION cache_bump();
