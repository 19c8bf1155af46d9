/* The one SQL test of "port p is a NIC of a server", for every query that asks which
 * Network API ports belong to a server (api-server/compute, scheduler/netstate.c).
 * A port is a server's NIC when Nova's device_owner compute:* is on it AND the port
 * is in the server's own project: any member may write another project's server id
 * into device_id of a port of theirs (Neutron checks neither field), and such a port
 * must not show as the victim's address, match its ip filter, get its floating IP or
 * be plugged into its guest. The caller adds its own condition on p.device_id.
 * Contains no '%', so it may sit in a printf format as is. */
#ifndef NUBO_SERVER_NIC_H
#define NUBO_SERVER_NIC_H

/* SERVER_NIC_SQL("p"): a boolean SQL condition on the net_ports row aliased p. */
#define SERVER_NIC_SQL(p)                                                                          \
	" starts_with(" p ".device_owner, 'compute:') AND " p ".project_id = (SELECT"              \
	" nic_i.project_id FROM instances nic_i WHERE nic_i.id = " p ".device_id) "

#endif
