-- 9: Compute admin APIs (issue 7). Host aggregates with their hosts and metadata, as
-- Nova keeps them (integer id and a uuid, name unique; an aggregate's availability
-- zone is its "availability_zone" metadata key); the zone each compute host is in
-- (an aggregate's zone, else the zone its agent reports); the password a guest posts
-- through the metadata service (os-server-password); when each agent's host booted
-- (os-hypervisors/{id}/uptime).
CREATE TABLE aggregates (
  id serial PRIMARY KEY, uuid text NOT NULL UNIQUE DEFAULT gen_random_uuid()::text,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
CREATE UNIQUE INDEX aggregates_name ON aggregates(name);
CREATE TABLE aggregate_hosts (
  aggregate_id int NOT NULL REFERENCES aggregates(id) ON DELETE CASCADE,
  host text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (aggregate_id, host));
CREATE INDEX aggregate_hosts_host ON aggregate_hosts(host);
CREATE TABLE aggregate_metadata (
  aggregate_id int NOT NULL REFERENCES aggregates(id) ON DELETE CASCADE,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  value text NOT NULL CHECK (length(value) <= 255),
  PRIMARY KEY (aggregate_id, key));
-- The zone of every compute host: the availability_zone of an aggregate it belongs to
-- (the API keeps a host out of two different zones), else its agent's own.
CREATE VIEW compute_host_zones AS
  SELECT a.host, coalesce((SELECT min(m.value) FROM aggregate_hosts h
    JOIN aggregate_metadata m ON m.aggregate_id = h.aggregate_id
    AND m.key = 'availability_zone' WHERE h.host = a.host), a.az) AS az
  FROM agents a WHERE a.kind = 'compute';
CREATE TABLE instance_passwords (
  instance_id text PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
  password text NOT NULL CHECK (length(password) <= 256),
  updated_at timestamptz NOT NULL DEFAULT now());
-- reported by the agent in its hello/heartbeat (NULL: an agent that does not say)
ALTER TABLE agents ADD COLUMN booted_at timestamptz;
-- the control services that run beside the agents (os-hosts lists them in the
-- "internal" zone, as Nova lists its scheduler): each nubo-scheduler records its host
-- when it starts
CREATE TABLE control_services (
  host text NOT NULL, binary_name text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host, binary_name));
