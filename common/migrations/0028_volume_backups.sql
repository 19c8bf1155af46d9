-- Volume backups (Cinder's backups, issue 9): chunked copies of a volume kept as objects
-- in the owner's Swift account; an incremental one names its parent, whose chunks it
-- reuses (so a parent with a child is not deleted). restore_volume_id is the volume a
-- restore in progress writes. The volume's metadata, bootable flag and image metadata
-- are kept with the backup and given to the volume it is restored to, as Cinder does.
CREATE TABLE volume_backups (
  id text PRIMARY KEY, project_id text NOT NULL, user_id text NOT NULL,
  volume_id text NOT NULL, snapshot_id text, name text, description text,
  status text NOT NULL DEFAULT 'creating', fail_reason text,
  size_gb int NOT NULL, object_count int NOT NULL DEFAULT 0,
  container text NOT NULL, is_incremental boolean NOT NULL DEFAULT false,
  parent_id text REFERENCES volume_backups(id), host text,
  availability_zone text NOT NULL DEFAULT 'nova', restore_volume_id text,
  -- what a restore gives its volume besides the bytes, as the volume had it
  volume_metadata jsonb NOT NULL DEFAULT '{}', bootable boolean NOT NULL DEFAULT false,
  image_meta jsonb,
  -- an imported record (import_record): the backup id its objects are kept under and
  -- the project whose Swift account holds them (NULL: its own)
  data_id text, data_project text,
  data_timestamp timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
CREATE INDEX volume_backups_project ON volume_backups (project_id, created_at DESC, id DESC);
CREATE INDEX volume_backups_volume ON volume_backups (volume_id, created_at DESC);
CREATE INDEX volume_backups_parent ON volume_backups (parent_id);
