/* nubo-objproxy and nubo-objserver: one binary built under both names (deploy/daemons
 * lists two daemons in this directory), the daemon chosen by the name it runs as. */
#include <string.h>

#include "daemon.h"
#include "objserver.h"
#include "proxy_main.h"

int main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	const char *name = slash ? slash + 1 : argv[0];
	if (strcmp(name, "nubo-objserver") == 0)
		return daemon_main(&objserver_daemon, argc, argv);
	return daemon_main(&objproxy_daemon, argc, argv);
}
