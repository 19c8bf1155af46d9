-- 13: block storage (issue 9): volume types with extra specs, volumes, snapshots. Volume
-- and snapshot rows are removed when their storage agent confirms the delete; quotas
-- (volumes, gigabytes, snapshots, volumes_<type>, gigabytes_<type>) live in `quotas`.
CREATE TABLE volume_types (
  id text PRIMARY KEY, name text NOT NULL UNIQUE, description text,
  is_public boolean NOT NULL DEFAULT true, extra_specs jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO volume_types (id, name, description)
  VALUES ('7b1d8a0e-3c4f-4b36-9d51-0e6f2b8c4a10', '__DEFAULT__', 'Default Volume Type');
CREATE TABLE volumes (
  id text PRIMARY KEY, project_id text NOT NULL, user_id text NOT NULL,
  name text, description text, size_gb int NOT NULL CHECK (size_gb > 0),
  status text NOT NULL DEFAULT 'creating', type_id text NOT NULL REFERENCES volume_types(id),
  host text, az text NOT NULL DEFAULT 'nova', bootable boolean NOT NULL DEFAULT false,
  metadata jsonb NOT NULL DEFAULT '{}', source_volid text, snapshot_id text, image_id text,
  new_size_gb int, attached_server text, attachment_id text, attach_device text,
  fault text, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
CREATE INDEX volumes_project ON volumes (project_id, created_at DESC, id DESC);
CREATE INDEX volumes_all ON volumes (created_at DESC, id DESC);
CREATE TABLE volume_snapshots (
  id text PRIMARY KEY, project_id text NOT NULL, user_id text NOT NULL,
  volume_id text NOT NULL REFERENCES volumes(id), name text, description text,
  size_gb int NOT NULL, status text NOT NULL DEFAULT 'creating', host text,
  metadata jsonb NOT NULL DEFAULT '{}', fault text,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
CREATE INDEX volume_snapshots_project ON volume_snapshots (project_id, created_at DESC, id DESC);
CREATE INDEX volume_snapshots_volume ON volume_snapshots (volume_id);
