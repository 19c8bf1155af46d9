-- 18: Block Storage v3 conformance (issue 9). Volume transfers: one open offer per
-- volume, its auth key kept only as a crypto_pwhash string (the key is shown once, at
-- create); accepting moves the volume and its snapshots to the new project, and with
-- them their quota usage (usage is counted from the rows). Quota classes: Cinder's
-- "default" class overrides the built-in defaults for every project (per-type keys
-- such as volumes_<type> included). Private volume types' project access. QoS specs,
-- associated with volume types.
CREATE TABLE volume_transfers (
  id text PRIMARY KEY, volume_id text NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
  project_id text NOT NULL, name text, key_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX volume_transfers_volume ON volume_transfers (volume_id);
CREATE INDEX volume_transfers_project ON volume_transfers (project_id, created_at DESC);
CREATE TABLE volume_quota_classes (
  class_name text NOT NULL, resource text NOT NULL, hard_limit bigint NOT NULL,
  PRIMARY KEY (class_name, resource));
CREATE TABLE volume_type_access (
  type_id text NOT NULL REFERENCES volume_types(id) ON DELETE CASCADE,
  project_id text NOT NULL, PRIMARY KEY (type_id, project_id));
CREATE TABLE qos_specs (
  id text PRIMARY KEY, name text NOT NULL UNIQUE, consumer text NOT NULL DEFAULT 'back-end',
  specs jsonb NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE volume_types ADD COLUMN qos_specs_id text REFERENCES qos_specs(id);
-- A snapshot's progress as os-update_snapshot_status reports it (NULL: from status).
ALTER TABLE volume_snapshots ADD COLUMN progress text;
-- A cascade delete (DELETE volumes/{id}?cascade=true) queues the snapshots' deletes and
-- then the volume's; the volume's row may be removed first, its snapshots' rows with it
-- (their files are separate copies, removed by their own tasks).
ALTER TABLE volume_snapshots DROP CONSTRAINT volume_snapshots_volume_id_fkey,
  ADD CONSTRAINT volume_snapshots_volume_id_fkey FOREIGN KEY (volume_id)
    REFERENCES volumes(id) ON DELETE CASCADE;
