-- Subnet pools (Neutron's subnet_allocation): IPv4 prefixes a project's subnets are
-- carved from by prefix length. A subnet taken from a pool is remembered in
-- net_subnet_pools (the subnet's subnetpool_id); deleting the subnet frees its prefix.
CREATE TABLE net_subnetpools (
  id text PRIMARY KEY, project_id text NOT NULL,
  name text NOT NULL DEFAULT '', description text NOT NULL DEFAULT '',
  prefixes jsonb NOT NULL DEFAULT '[]', -- canonical CIDR strings, disjoint
  default_prefixlen int NOT NULL CHECK (default_prefixlen BETWEEN 0 AND 32),
  min_prefixlen int NOT NULL CHECK (min_prefixlen BETWEEN 0 AND 32),
  max_prefixlen int NOT NULL CHECK (max_prefixlen BETWEEN 0 AND 32),
  shared boolean NOT NULL DEFAULT false, is_default boolean NOT NULL DEFAULT false,
  default_quota int,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1,
  CHECK (min_prefixlen <= default_prefixlen AND default_prefixlen <= max_prefixlen));
CREATE INDEX net_subnetpools_project ON net_subnetpools(project_id);

CREATE TABLE net_subnet_pools (
  subnet_id text PRIMARY KEY REFERENCES net_subnets(id) ON DELETE CASCADE,
  pool_id text NOT NULL REFERENCES net_subnetpools(id));
CREATE INDEX net_subnet_pools_pool ON net_subnet_pools(pool_id);

CREATE VIEW net_subnetpools_v AS SELECT p.id, p.project_id, p.shared, false AS external,
  p.created_at, json_build_object(
  'id', p.id, 'name', p.name, 'tenant_id', p.project_id, 'project_id', p.project_id,
  'description', p.description, 'prefixes', p.prefixes, 'ip_version', 4,
  'default_prefixlen', p.default_prefixlen, 'min_prefixlen', p.min_prefixlen,
  'max_prefixlen', p.max_prefixlen, 'shared', p.shared, 'is_default', p.is_default,
  'default_quota', p.default_quota, 'address_scope_id', NULL,
  'tags', net_tags_of(p.id), 'created_at', net_ts(p.created_at),
  'updated_at', net_ts(p.updated_at), 'revision_number', p.revision) AS body
  FROM net_subnetpools p;

-- The subnet's subnetpool_id now comes from net_subnet_pools (0012 showed NULL).
CREATE OR REPLACE VIEW net_subnets_v AS SELECT s.id, s.project_id, n.shared, n.external,
  s.created_at, json_build_object(
  'id', s.id, 'name', s.name, 'tenant_id', s.project_id, 'project_id', s.project_id,
  'description', s.description, 'network_id', s.network_id, 'ip_version', 4,
  'cidr', s.cidr::text, 'gateway_ip', host(s.gateway_ip), 'enable_dhcp', s.enable_dhcp,
  'allocation_pools', s.pools, 'dns_nameservers', s.dns, 'host_routes', s.routes,
  'ipv6_ra_mode', NULL, 'ipv6_address_mode', NULL,
  'subnetpool_id', (SELECT sp.pool_id FROM net_subnet_pools sp WHERE sp.subnet_id = s.id),
  'service_types', '[]'::json, 'segment_id', NULL, 'dns_publish_fixed_ip', false,
  'tags', net_tags_of(s.id), 'created_at', net_ts(s.created_at),
  'updated_at', net_ts(s.updated_at), 'revision_number', s.revision) AS body
  FROM net_subnets s JOIN net_networks n ON n.id = s.network_id;
