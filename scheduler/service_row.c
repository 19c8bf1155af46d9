/* Registers the running scheduler in control_services. */
#include "service_row.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "db.h"

int service_row_register(PGconn *c, char *err, size_t errlen)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0]) {
		snprintf(err, errlen, "gethostname failed");
		return -EIO;
	}
	return DBX(c, err, errlen,
	           "INSERT INTO control_services (host, binary_name) VALUES ($1, 'nubo-scheduler')"
	           " ON CONFLICT (host, binary_name) DO UPDATE SET started_at = now()",
	           host) < 0
	           ? -EIO
	           : 0;
}
