/* The ring's admin commands. */
#include "ring_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

static int ring_cmd_usage(FILE *err)
{
	fputs("usage: nubo-manage ring build FILE PART_POWER REPLICAS\n"
	      "       nubo-manage ring add FILE ZONE WEIGHT IP:PORT DEVICE\n"
	      "       nubo-manage ring set-weight FILE DEVICE_ID WEIGHT\n"
	      "       nubo-manage ring rebalance FILE\n"
	      "       nubo-manage ring show FILE\n",
	      err);
	return 2;
}

static int num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static void ring_show(const struct ring *r, FILE *out)
{
	size_t parts = (size_t)1 << r->part_power;
	long *count = calloc((size_t)r->ndevs + 1, sizeof(long));
	for (size_t s = 0; s < parts * r->replicas; s++)
		if (r->assign[s] != RING_NONE)
			count[r->assign[s]]++;
	fprintf(out, "version %u, %zu partitions, %u replicas, %d devices\n", r->version, parts,
	        r->replicas, r->ndevs);
	for (int i = 0; i < r->ndevs; i++)
		fprintf(out, "device %d zone %d weight %g %s:%u %s partitions %ld\n", i,
		        r->devs[i].zone, r->devs[i].weight, r->devs[i].host, r->devs[i].port,
		        r->devs[i].name, count[i]);
	free(count);
}

int ring_cmd(int argc, char **argv, FILE *out, FILE *err)
{
	if (argc < 2)
		return ring_cmd_usage(err);
	const char *cmd = argv[0], *path = argv[1];
	char msg[256];
	double a, b;
	if (!strcmp(cmd, "build")) {
		if (argc != 4 || num(argv[2], 1, RING_MAX_PART_POWER, &a) < 0 ||
		    num(argv[3], 1, RING_MAX_REPLICAS, &b) < 0)
			return ring_cmd_usage(err);
		struct ring *r = ring_new((unsigned)a, (unsigned)b);
		int rc = ring_save(r, path);
		ring_free(r);
		if (rc < 0) {
			fprintf(err, "ring: %s: %s\n", path, strerror(-rc));
			return 1;
		}
		return 0;
	}
	struct ring *r = ring_load(path, msg, sizeof(msg));
	if (!r) {
		fprintf(err, "ring: %s\n", msg);
		return 1;
	}
	int rc = 0, save = 1;
	if (!strcmp(cmd, "add") && argc == 6 && num(argv[2], 0, 65535, &a) == 0 &&
	    num(argv[3], 0, 1e6, &b) == 0) {
		char host[64];
		unsigned port;
		int n = 0;
		if (sscanf(argv[4], "%63[0-9.]:%u%n", host, &port, &n) != 2 || argv[4][n]) {
			rc = ring_cmd_usage(err);
			save = 0;
		} else {
			int id = ring_add_dev(r, (int)a, b, host, port, argv[5]);
			if (id < 0) {
				fprintf(err, "ring: bad device: %s\n", strerror(-id));
				rc = 1;
				save = 0;
			} else
				fprintf(out, "device %d added\n", id);
		}
	} else if (!strcmp(cmd, "set-weight") && argc == 4 && num(argv[2], 0, 1023, &a) == 0 &&
	           num(argv[3], 0, 1e6, &b) == 0) {
		if (ring_set_weight(r, (int)a, b) < 0) {
			fprintf(err, "ring: no device %d\n", (int)a);
			rc = 1;
			save = 0;
		}
	} else if (!strcmp(cmd, "rebalance") && argc == 2) {
		long moved = ring_rebalance(r);
		if (moved < 0) {
			fprintf(err, "ring: no device has weight\n");
			rc = 1;
			save = 0;
		} else
			fprintf(out, "version %u: %ld partition replicas moved\n", r->version,
			        moved);
	} else if (!strcmp(cmd, "show") && argc == 2) {
		ring_show(r, out);
		save = 0;
	} else {
		rc = ring_cmd_usage(err);
		save = 0;
	}
	if (save && (rc = ring_save(r, path)) < 0) {
		fprintf(err, "ring: %s: %s\n", path, strerror(-rc));
		rc = 1;
	}
	ring_free(r);
	return rc;
}
