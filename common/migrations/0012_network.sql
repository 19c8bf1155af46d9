-- 12: tenant networking (issue 8): the Network v2.0 resources, IP allocations whose
-- primary key makes a duplicate address impossible, per-project network quotas, tags,
-- and the hosts nubo-net converges with their desired-state generation.
CREATE SEQUENCE net_vni_seq START 1001 MAXVALUE 16777215;
CREATE TABLE net_networks (
  id text PRIMARY KEY, project_id text NOT NULL, name text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '', admin_state_up boolean NOT NULL DEFAULT true,
  shared boolean NOT NULL DEFAULT false, external boolean NOT NULL DEFAULT false,
  net_type text NOT NULL DEFAULT 'vxlan' CHECK (net_type IN ('vxlan', 'vlan', 'flat')),
  seg_id int, physical_network text, mtu int NOT NULL DEFAULT 1450,
  port_security boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1);
CREATE UNIQUE INDEX net_networks_seg ON net_networks(net_type, seg_id) WHERE seg_id IS NOT NULL;
CREATE INDEX net_networks_project ON net_networks(project_id);

CREATE TABLE net_subnets (
  id text PRIMARY KEY, project_id text NOT NULL,
  network_id text NOT NULL REFERENCES net_networks(id) ON DELETE CASCADE,
  name text NOT NULL DEFAULT '', description text NOT NULL DEFAULT '',
  cidr cidr NOT NULL CHECK (family(cidr) = 4), gateway_ip inet,
  enable_dhcp boolean NOT NULL DEFAULT true,
  pools jsonb NOT NULL DEFAULT '[]', dns jsonb NOT NULL DEFAULT '[]',
  routes jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1);
CREATE INDEX net_subnets_network ON net_subnets(network_id);

CREATE TABLE net_ports (
  id text PRIMARY KEY, project_id text NOT NULL,
  network_id text NOT NULL REFERENCES net_networks(id),
  name text NOT NULL DEFAULT '', description text NOT NULL DEFAULT '',
  mac text NOT NULL, admin_state_up boolean NOT NULL DEFAULT true,
  device_id text NOT NULL DEFAULT '', device_owner text NOT NULL DEFAULT '',
  port_security boolean NOT NULL DEFAULT true, pairs jsonb NOT NULL DEFAULT '[]',
  host text NOT NULL DEFAULT '',
  auto_delete boolean NOT NULL DEFAULT false, -- made by a server create: deleted with it
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1,
  UNIQUE (network_id, mac));
CREATE INDEX net_ports_device ON net_ports(device_id);
CREATE INDEX net_ports_project ON net_ports(project_id);

-- One row per fixed IP: the key refuses a second holder of an address.
CREATE TABLE net_ips (
  subnet_id text NOT NULL REFERENCES net_subnets(id),
  ip inet NOT NULL,
  port_id text NOT NULL REFERENCES net_ports(id) ON DELETE CASCADE,
  PRIMARY KEY (subnet_id, ip));
CREATE INDEX net_ips_port ON net_ips(port_id);

CREATE TABLE net_secgroups (
  id text PRIMARY KEY, project_id text NOT NULL, name text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '', stateful boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1);
-- one `default` group per project, even when two first requests race to create it
CREATE UNIQUE INDEX net_secgroups_default ON net_secgroups(project_id) WHERE name = 'default';

CREATE TABLE net_sg_rules (
  id text PRIMARY KEY, project_id text NOT NULL,
  sg_id text NOT NULL REFERENCES net_secgroups(id) ON DELETE CASCADE,
  direction text NOT NULL CHECK (direction IN ('ingress', 'egress')),
  ethertype text NOT NULL CHECK (ethertype IN ('IPv4', 'IPv6')),
  protocol text, port_min int, port_max int, remote_ip_prefix cidr,
  remote_group_id text REFERENCES net_secgroups(id) ON DELETE CASCADE,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1);
CREATE UNIQUE INDEX net_sg_rules_same ON net_sg_rules(sg_id, direction, ethertype,
  coalesce(protocol, ''), coalesce(port_min, -1), coalesce(port_max, -1),
  coalesce(remote_ip_prefix::text, ''), coalesce(remote_group_id, ''));

CREATE TABLE net_port_sgs (
  port_id text NOT NULL REFERENCES net_ports(id) ON DELETE CASCADE,
  sg_id text NOT NULL REFERENCES net_secgroups(id),
  PRIMARY KEY (port_id, sg_id));
CREATE INDEX net_port_sgs_sg ON net_port_sgs(sg_id);

CREATE TABLE net_routers (
  id text PRIMARY KEY, project_id text NOT NULL, name text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '', admin_state_up boolean NOT NULL DEFAULT true,
  gw_port_id text REFERENCES net_ports(id), enable_snat boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1);

CREATE TABLE net_floatingips (
  id text PRIMARY KEY, project_id text NOT NULL,
  network_id text NOT NULL REFERENCES net_networks(id),
  fip_port_id text NOT NULL REFERENCES net_ports(id),
  port_id text REFERENCES net_ports(id), fixed_ip inet,
  router_id text REFERENCES net_routers(id),
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  revision int NOT NULL DEFAULT 1);
CREATE UNIQUE INDEX net_floatingips_port ON net_floatingips(port_id, fixed_ip)
  WHERE port_id IS NOT NULL;

-- Per-project limits; a missing row is the default of net_quota_default().
CREATE TABLE net_quotas (
  project_id text NOT NULL, resource text NOT NULL, hard_limit bigint NOT NULL,
  PRIMARY KEY (project_id, resource));

CREATE TABLE net_tags (
  resource_id text NOT NULL, tag text NOT NULL, PRIMARY KEY (resource_id, tag));

-- The hosts nubo-net runs on: the id names their nethost resource on the bus, the
-- generation moves with every change that may touch them.
CREATE TABLE net_hosts (
  host text PRIMARY KEY, id text NOT NULL UNIQUE, tunnel_ip text NOT NULL DEFAULT '',
  vlan boolean NOT NULL DEFAULT false, generation bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now());

-- The API's views: each row's Neutron body as JSON, built in one place, so that lists,
-- shows and filters read the same shape.
CREATE FUNCTION net_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;
CREATE FUNCTION net_tags_of(rid text) RETURNS json LANGUAGE sql STABLE AS
  $$ SELECT coalesce(json_agg(tag ORDER BY tag), '[]') FROM net_tags WHERE resource_id = rid $$;
CREATE FUNCTION net_fixed_ips(pid text) RETURNS json LANGUAGE sql STABLE AS
  $$ SELECT coalesce(json_agg(json_build_object('subnet_id', subnet_id, 'ip_address', host(ip))
                              ORDER BY ip), '[]') FROM net_ips WHERE port_id = pid $$;

CREATE VIEW net_networks_v AS SELECT n.id, n.project_id, n.shared, n.external,
  n.created_at, json_build_object(
  'id', n.id, 'name', n.name, 'tenant_id', n.project_id, 'project_id', n.project_id,
  'description', n.description, 'admin_state_up', n.admin_state_up, 'status', 'ACTIVE',
  'shared', n.shared, 'router:external', n.external,
  'subnets', (SELECT coalesce(json_agg(s.id ORDER BY s.created_at, s.id), '[]')
              FROM net_subnets s WHERE s.network_id = n.id),
  'mtu', n.mtu, 'provider:network_type', n.net_type, 'provider:segmentation_id', n.seg_id,
  'provider:physical_network', n.physical_network, 'port_security_enabled', n.port_security,
  'availability_zone_hints', '[]'::json, 'availability_zones', '["nova"]'::json,
  'ipv4_address_scope', NULL, 'ipv6_address_scope', NULL, 'is_default', false,
  'l2_adjacency', true, 'tags', net_tags_of(n.id), 'created_at', net_ts(n.created_at),
  'updated_at', net_ts(n.updated_at), 'revision_number', n.revision) AS body
  FROM net_networks n;

CREATE VIEW net_subnets_v AS SELECT s.id, s.project_id, n.shared, n.external, s.created_at,
  json_build_object(
  'id', s.id, 'name', s.name, 'tenant_id', s.project_id, 'project_id', s.project_id,
  'description', s.description, 'network_id', s.network_id, 'ip_version', 4,
  'cidr', s.cidr::text, 'gateway_ip', host(s.gateway_ip), 'enable_dhcp', s.enable_dhcp,
  'allocation_pools', s.pools, 'dns_nameservers', s.dns, 'host_routes', s.routes,
  'ipv6_ra_mode', NULL, 'ipv6_address_mode', NULL, 'subnetpool_id', NULL,
  'service_types', '[]'::json, 'segment_id', NULL, 'dns_publish_fixed_ip', false,
  'tags', net_tags_of(s.id), 'created_at', net_ts(s.created_at),
  'updated_at', net_ts(s.updated_at), 'revision_number', s.revision) AS body
  FROM net_subnets s JOIN net_networks n ON n.id = s.network_id;

CREATE VIEW net_ports_v AS SELECT p.id, p.project_id, false AS shared, false AS external,
  p.created_at, json_build_object(
  'id', p.id, 'name', p.name, 'tenant_id', p.project_id, 'project_id', p.project_id,
  'description', p.description, 'network_id', p.network_id, 'mac_address', p.mac,
  'admin_state_up', p.admin_state_up,
  'status', CASE WHEN p.device_id <> '' THEN 'ACTIVE' ELSE 'DOWN' END,
  'device_id', p.device_id, 'device_owner', p.device_owner,
  'fixed_ips', net_fixed_ips(p.id),
  'security_groups', (SELECT coalesce(json_agg(sg_id ORDER BY sg_id), '[]')
                      FROM net_port_sgs WHERE port_id = p.id),
  'port_security_enabled', p.port_security, 'allowed_address_pairs', p.pairs,
  'binding:host_id', p.host, 'binding:vnic_type', 'normal',
  'binding:vif_type', CASE WHEN p.host <> '' THEN 'tap' ELSE 'unbound' END,
  'binding:vif_details', '{}'::json, 'binding:profile', '{}'::json,
  'extra_dhcp_opts', '[]'::json, 'dns_name', '', 'dns_assignment', '[]'::json,
  'ip_allocation', 'immediate', 'propagate_uplink_status', false,
  'tags', net_tags_of(p.id), 'created_at', net_ts(p.created_at),
  'updated_at', net_ts(p.updated_at), 'revision_number', p.revision) AS body
  FROM net_ports p WHERE p.project_id <> '';

CREATE VIEW net_routers_v AS SELECT r.id, r.project_id, false AS shared, false AS external,
  r.created_at, json_build_object(
  'id', r.id, 'name', r.name, 'tenant_id', r.project_id, 'project_id', r.project_id,
  'description', r.description, 'admin_state_up', r.admin_state_up, 'status', 'ACTIVE',
  'external_gateway_info', (SELECT json_build_object('network_id', g.network_id,
      'enable_snat', r.enable_snat, 'external_fixed_ips', net_fixed_ips(g.id))
      FROM net_ports g WHERE g.id = r.gw_port_id),
  'routes', '[]'::json, 'distributed', false, 'ha', false, 'flavor_id', NULL,
  'availability_zone_hints', '[]'::json, 'availability_zones', '["nova"]'::json,
  'tags', net_tags_of(r.id), 'created_at', net_ts(r.created_at),
  'updated_at', net_ts(r.updated_at), 'revision_number', r.revision) AS body
  FROM net_routers r;

CREATE VIEW net_floatingips_v AS SELECT f.id, f.project_id, false AS shared,
  false AS external, f.created_at, json_build_object(
  'id', f.id, 'tenant_id', f.project_id, 'project_id', f.project_id,
  'description', f.description,
  'floating_ip_address', (SELECT host(ip) FROM net_ips WHERE port_id = f.fip_port_id LIMIT 1),
  'floating_network_id', f.network_id, 'router_id', f.router_id, 'port_id', f.port_id,
  'fixed_ip_address', host(f.fixed_ip),
  'status', CASE WHEN f.port_id IS NULL THEN 'DOWN' ELSE 'ACTIVE' END,
  'port_details', NULL, 'dns_name', '', 'dns_domain', '', 'qos_policy_id', NULL,
  'tags', net_tags_of(f.id), 'created_at', net_ts(f.created_at),
  'updated_at', net_ts(f.updated_at), 'revision_number', f.revision) AS body
  FROM net_floatingips f;

CREATE FUNCTION net_rule_json(r net_sg_rules) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
  'id', r.id, 'tenant_id', r.project_id, 'project_id', r.project_id,
  'security_group_id', r.sg_id, 'direction', r.direction, 'ethertype', r.ethertype,
  'protocol', r.protocol, 'port_range_min', r.port_min, 'port_range_max', r.port_max,
  'remote_ip_prefix', r.remote_ip_prefix::text, 'remote_group_id', r.remote_group_id,
  'remote_address_group_id', NULL, 'normalized_cidr', r.remote_ip_prefix::text,
  'description', r.description,
  'belongs_to_default_sg', (SELECT g.name = 'default' FROM net_secgroups g WHERE g.id = r.sg_id),
  'tags', net_tags_of(r.id), 'created_at', net_ts(r.created_at),
  'updated_at', net_ts(r.updated_at), 'revision_number', r.revision) $$;

CREATE VIEW net_sg_rules_v AS SELECT r.id, r.project_id, false AS shared, false AS external,
  r.created_at, net_rule_json(r) AS body FROM net_sg_rules r;

CREATE VIEW net_secgroups_v AS SELECT g.id, g.project_id, false AS shared, false AS external,
  g.created_at, json_build_object(
  'id', g.id, 'name', g.name, 'tenant_id', g.project_id, 'project_id', g.project_id,
  'description', g.description, 'stateful', g.stateful, 'shared', false,
  'security_group_rules', (SELECT coalesce(json_agg(net_rule_json(r) ORDER BY r.created_at, r.id), '[]')
                           FROM net_sg_rules r WHERE r.sg_id = g.id),
  'tags', net_tags_of(g.id), 'created_at', net_ts(g.created_at),
  'updated_at', net_ts(g.updated_at), 'revision_number', g.revision) AS body
  FROM net_secgroups g;
