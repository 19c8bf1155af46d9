-- 1: identity, compute, images, the task outbox, agents (schema of the first release)
CREATE TABLE projects (
  id text PRIMARY KEY, name text NOT NULL UNIQUE, domain_id text NOT NULL DEFAULT 'default',
  description text NOT NULL DEFAULT '', enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE users (
  id text PRIMARY KEY, name text NOT NULL UNIQUE, domain_id text NOT NULL DEFAULT 'default',
  password_hash text NOT NULL, email text, default_project_id text REFERENCES projects(id) ON DELETE SET NULL,
  enabled boolean NOT NULL DEFAULT true, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE roles (id text PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE role_assignments (
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  role_id text NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, project_id, role_id));
CREATE TABLE tokens (
  hash text PRIMARY KEY, user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id text REFERENCES projects(id) ON DELETE CASCADE,
  issued_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz NOT NULL,
  revoked boolean NOT NULL DEFAULT false);
CREATE INDEX tokens_user ON tokens(user_id);
CREATE TABLE flavors (
  id text PRIMARY KEY, name text NOT NULL UNIQUE, vcpus int NOT NULL, ram_mb int NOT NULL,
  disk_gb int NOT NULL, swap_mb int NOT NULL DEFAULT 0, ephemeral_gb int NOT NULL DEFAULT 0,
  rxtx_factor double precision NOT NULL DEFAULT 1.0, is_public boolean NOT NULL DEFAULT true,
  disabled boolean NOT NULL DEFAULT false, description text,
  extra_specs jsonb NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE images (
  id text PRIMARY KEY, name text, owner text, status text NOT NULL DEFAULT 'queued',
  visibility text NOT NULL DEFAULT 'shared', disk_format text, container_format text,
  size bigint, virtual_size bigint, checksum text, os_hash_algo text, os_hash_value text,
  min_disk int NOT NULL DEFAULT 0, min_ram int NOT NULL DEFAULT 0, protected boolean NOT NULL DEFAULT false,
  properties jsonb NOT NULL DEFAULT '{}', tags jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE keypairs (
  id bigserial PRIMARY KEY, user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL, type text NOT NULL DEFAULT 'ssh', public_key text NOT NULL,
  fingerprint text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, name));
CREATE TABLE quotas (
  project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE, resource text NOT NULL,
  hard_limit bigint NOT NULL, PRIMARY KEY (project_id, resource));
CREATE TABLE agents (
  host text PRIMARY KEY, kind text NOT NULL DEFAULT 'compute', accel text, az text NOT NULL DEFAULT 'nova',
  vcpus int NOT NULL DEFAULT 0, ram_mb int NOT NULL DEFAULT 0, disk_gb int NOT NULL DEFAULT 0,
  state text NOT NULL DEFAULT 'up', last_seen timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE instances (
  id text PRIMARY KEY, name text NOT NULL, project_id text NOT NULL, user_id text NOT NULL,
  flavor_id text NOT NULL, image_id text NOT NULL, vcpus int NOT NULL, ram_mb int NOT NULL,
  disk_gb int NOT NULL, status text NOT NULL DEFAULT 'BUILD', task_state text,
  power_state int NOT NULL DEFAULT 0, vm_state text NOT NULL DEFAULT 'building',
  host text, az text NOT NULL DEFAULT 'nova', key_name text, public_key text, user_data text,
  config_drive boolean NOT NULL DEFAULT true, metadata jsonb NOT NULL DEFAULT '{}',
  fault_message text, fault_code int, access_ipv4 text NOT NULL DEFAULT '', access_ipv6 text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  launched_at timestamptz, terminated_at timestamptz, deleted boolean NOT NULL DEFAULT false);
CREATE INDEX instances_project ON instances(project_id) WHERE NOT deleted;
CREATE INDEX instances_host ON instances(host) WHERE NOT deleted;
CREATE TABLE tasks (
  id text PRIMARY KEY, instance_id text NOT NULL REFERENCES instances(id),
  action text NOT NULL, status text NOT NULL DEFAULT 'pending',
  host text, attempts int NOT NULL DEFAULT 0, error text,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX tasks_open ON tasks(created_at) WHERE status IN ('pending','dispatched');
CREATE TABLE instance_console (
  instance_id text PRIMARY KEY REFERENCES instances(id), log text NOT NULL DEFAULT '',
  updated_at timestamptz NOT NULL DEFAULT now());
