-- A security group rule's remote prefix as the request wrote it: Neutron keeps host
-- bits in what it shows (10.2.3.124/24 stays so), while remote_ip_prefix (cidr) holds
-- the network. NULL: the rule came without a prefix, or before this column.
ALTER TABLE net_sg_rules ADD COLUMN remote_ip_given text;
