/* Replicator and auditor threads of an object server device. */
#include "replicator.h"

#include <stdlib.h>

struct replicator {
	int unused;
};

struct replicator *replicator_start(const char *root, const struct ring_dev *dev,
                                    const char *ring_file, long interval, long audit_rate)
{
	return NULL;
}

void replicator_stop(struct replicator *r)
{
	free(r);
}

enum MHD_Result replicator_answer(const char *root, struct MHD_Connection *c, const char *url,
                                  const char *dev)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = MHD_queue_response(c, 501, r);
	MHD_destroy_response(r);
	return ret;
}
