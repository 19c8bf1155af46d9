/* The ring: partition placement, weight-proportional and zone-aware, with minimal
 * movement on rebalance; its text form. */
#include "ring.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "md5.h"
#include "xalloc.h"

struct ring *ring_new(unsigned part_power, unsigned replicas)
{
	if (part_power < 1 || part_power > RING_MAX_PART_POWER || replicas < 1 ||
	    replicas > RING_MAX_REPLICAS)
		return NULL;
	struct ring *r = xcalloc(1, sizeof(*r));
	r->part_power = part_power;
	r->replicas = replicas;
	size_t slots = ((size_t)1 << part_power) * replicas;
	r->assign = xmalloc(slots * sizeof(uint16_t));
	for (size_t i = 0; i < slots; i++)
		r->assign[i] = RING_NONE;
	return r;
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	free(r->devs);
	free(r->assign);
	free(r);
}

static int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

static int host_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return 0;
	return 1;
}

int ring_add_dev(struct ring *r, int zone, double weight, const char *host, unsigned port,
                 const char *name)
{
	if (zone < 0 || zone > 65535 || !(weight >= 0 && weight <= 1e6) || !host_ok(host) ||
	    port < 1 || port > 65535 || !name_ok(name, sizeof(r->devs[0].name)))
		return -EINVAL;
	if (r->ndevs >= RING_MAX_DEVS)
		return -ENOSPC;
	r->devs = xrealloc(r->devs, (size_t)(r->ndevs + 1) * sizeof(*r->devs));
	struct ring_dev *d = &r->devs[r->ndevs];
	memset(d, 0, sizeof(*d));
	d->id = r->ndevs;
	d->zone = zone;
	d->weight = weight;
	snprintf(d->host, sizeof(d->host), "%s", host);
	d->port = port;
	snprintf(d->name, sizeof(d->name), "%s", name);
	return r->ndevs++;
}

int ring_set_weight(struct ring *r, int id, double weight)
{
	if (id < 0 || id >= r->ndevs)
		return -ENOENT;
	if (!(weight >= 0 && weight <= 1e6))
		return -EINVAL;
	r->devs[id].weight = weight;
	return 0;
}

static size_t ring_parts(const struct ring *r)
{
	return (size_t)1 << r->part_power;
}

/* 1 when zone z already holds a replica of part (other than slot skip). */
static int part_has_zone(const struct ring *r, size_t part, int z, unsigned skip)
{
	for (unsigned k = 0; k < r->replicas; k++) {
		uint16_t d = r->assign[part * r->replicas + k];
		if (k != skip && d != RING_NONE && r->devs[d].zone == z)
			return 1;
	}
	return 0;
}

static int part_has_dev(const struct ring *r, size_t part, int id)
{
	for (unsigned k = 0; k < r->replicas; k++)
		if (r->assign[part * r->replicas + k] == id)
			return 1;
	return 0;
}

/* A fixed scramble of partition numbers, so that the slots a rebalance takes from an
 * overloaded device are spread over the ring rather than the lowest partitions. */
static size_t part_order(size_t i, size_t nparts)
{
	return (i * 2654435761u) & (nparts - 1);
}

long ring_rebalance(struct ring *r)
{
	size_t nparts = ring_parts(r), slots = nparts * r->replicas;
	double total = 0;
	int zones[RING_MAX_DEVS], nzones = 0;
	for (int i = 0; i < r->ndevs; i++) {
		if (r->devs[i].weight <= 0)
			continue;
		total += r->devs[i].weight;
		int seen = 0;
		for (int z = 0; z < nzones; z++)
			seen |= zones[z] == r->devs[i].zone;
		if (!seen)
			zones[nzones++] = r->devs[i].zone;
	}
	if (total <= 0)
		return -EINVAL;
	/* with fewer zones than replicas, zones may repeat (devices still may not) */
	int zone_strict = nzones >= (int)r->replicas;
	double *want = xcalloc((size_t)r->ndevs, sizeof(double));
	long *count = xcalloc((size_t)r->ndevs, sizeof(long));
	uint16_t *before = xmalloc(slots * sizeof(uint16_t));
	memcpy(before, r->assign, slots * sizeof(uint16_t));
	for (int i = 0; i < r->ndevs; i++)
		want[i] = r->devs[i].weight > 0 ? (double)slots * r->devs[i].weight / total : 0;

	/* 1. drop what is no longer valid: gone or drained devices, a repeated device,
	 * a repeated zone where zones suffice */
	for (size_t p = 0; p < nparts; p++)
		for (unsigned k = 0; k < r->replicas; k++) {
			uint16_t *a = &r->assign[p * r->replicas + k];
			if (*a == RING_NONE)
				continue;
			if (*a >= r->ndevs || r->devs[*a].weight <= 0) {
				*a = RING_NONE;
				continue;
			}
			int dup = 0;
			for (unsigned j = 0; j < k; j++) {
				uint16_t o = r->assign[p * r->replicas + j];
				if (o != RING_NONE &&
				    (o == *a ||
				     (zone_strict && r->devs[o].zone == r->devs[*a].zone)))
					dup = 1;
			}
			if (dup)
				*a = RING_NONE;
			else
				count[*a]++;
		}
	/* 2. devices over their share give up slots, spread over the ring and at most one
	 * per partition and pass (a partition that lost two replicas at once would get one
	 * of them back from a device that is not short, which is a needless move) */
	for (int progress = 1; progress;) {
		progress = 0;
		for (size_t i = 0; i < nparts; i++) {
			size_t p = part_order(i, nparts);
			int worst = -1;
			double over = 0;
			for (unsigned k = 0; k < r->replicas; k++) {
				uint16_t a = r->assign[p * r->replicas + k];
				if (a == RING_NONE)
					continue;
				double o = (double)count[a] - ceil(want[a]);
				if (o > over) {
					over = o;
					worst = (int)k;
				}
			}
			if (worst >= 0) {
				count[r->assign[p * r->replicas + (unsigned)worst]]--;
				r->assign[p * r->replicas + (unsigned)worst] = RING_NONE;
				progress = 1;
			}
		}
	}
	/* 3. fill the holes: the device furthest under its share, in a zone the partition
	 * lacks (any zone when none qualifies and zones may repeat) */
	for (size_t i = 0; i < nparts; i++) {
		size_t p = part_order(i, nparts);
		for (unsigned k = 0; k < r->replicas; k++) {
			uint16_t *a = &r->assign[p * r->replicas + k];
			if (*a != RING_NONE)
				continue;
			int best = -1;
			for (int pass = 0; pass < 2 && best < 0; pass++) {
				if (pass == 1 && zone_strict)
					break;
				double bneed = 0;
				for (int d = 0; d < r->ndevs; d++) {
					if (r->devs[d].weight <= 0 || part_has_dev(r, p, d))
						continue;
					if (pass == 0 && part_has_zone(r, p, r->devs[d].zone, k))
						continue;
					double need = (want[d] - (double)count[d]) / want[d];
					if (best < 0 || need > bneed) {
						best = d;
						bneed = need;
					}
				}
			}
			if (best >= 0) {
				*a = (uint16_t)best;
				count[best]++;
			}
		}
	}
	long moved = 0;
	for (size_t s = 0; s < slots; s++)
		moved += before[s] != r->assign[s];
	r->version++;
	free(want);
	free(count);
	free(before);
	return moved;
}

void ring_hash(const char *account, const char *container, const char *object, char out[33])
{
	struct md5 m;
	md5_init(&m);
	md5_update(&m, "/", 1);
	md5_update(&m, account, strlen(account));
	if (container) {
		md5_update(&m, "/", 1);
		md5_update(&m, container, strlen(container));
	}
	if (object) {
		md5_update(&m, "/", 1);
		md5_update(&m, object, strlen(object));
	}
	md5_final_hex(&m, out);
}

unsigned ring_part(const struct ring *r, const char *account, const char *container,
                   const char *object)
{
	char h[33];
	ring_hash(account, container, object, h);
	char top[9];
	memcpy(top, h, 8);
	top[8] = '\0';
	uint32_t v = (uint32_t)strtoul(top, NULL, 16);
	return v >> (32 - r->part_power);
}

void ring_primaries(const struct ring *r, unsigned part, int *out)
{
	for (unsigned k = 0; k < r->replicas; k++) {
		uint16_t a =
		    part < ring_parts(r) ? r->assign[(size_t)part * r->replicas + k] : RING_NONE;
		out[k] = a == RING_NONE ? RING_NONE : a;
	}
}

int ring_handoffs(const struct ring *r, unsigned part, int *out, int max)
{
	int n = 0;
	if (r->ndevs == 0 || part >= ring_parts(r))
		return 0;
	/* two passes from a per-partition start: devices in zones the primaries lack, then
	 * the rest */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < r->ndevs && n < max; i++) {
			int d = (int)((part + (unsigned)i) % (unsigned)r->ndevs);
			if (r->devs[d].weight <= 0 || part_has_dev(r, part, d))
				continue;
			int zone_used = part_has_zone(r, part, r->devs[d].zone, RING_MAX_REPLICAS);
			if ((pass == 0) == zone_used)
				continue;
			out[n++] = d;
		}
	return n;
}

void ring_write(const struct ring *r, FILE *f)
{
	fprintf(f, "nubo-ring 1\nversion %u\npart_power %u\nreplicas %u\n", r->version,
	        r->part_power, r->replicas);
	for (int i = 0; i < r->ndevs; i++) {
		const struct ring_dev *d = &r->devs[i];
		fprintf(f, "device %d zone %d weight %g %s:%u %s\n", d->id, d->zone, d->weight,
		        d->host, d->port, d->name);
	}
	for (size_t p = 0; p < ring_parts(r); p++) {
		fprintf(f, "part %zu", p);
		for (unsigned k = 0; k < r->replicas; k++) {
			uint16_t a = r->assign[p * r->replicas + k];
			if (a == RING_NONE)
				fprintf(f, " -");
			else
				fprintf(f, " %u", a);
		}
		fputc('\n', f);
	}
}

static int parse_fail(char *err, size_t errlen, int line, const char *what)
{
	snprintf(err, errlen, "line %d: %s", line, what);
	return -EINVAL;
}

/* One line of the ring text into r (created by the header lines). */
static int ring_parse_line(struct ring **rp, char *s, int line, unsigned *pp, unsigned *reps,
                           unsigned *version, size_t *nextpart, char *err, size_t errlen)
{
	char host[64], name[32];
	int id, zone, n = 0;
	double w;
	unsigned port, u;
	if (line == 1)
		return strcmp(s, "nubo-ring 1") ? parse_fail(err, errlen, line, "not a nubo ring")
		                                : 0;
	if (sscanf(s, "version %u%n", &u, &n) == 1 && !s[n]) {
		*version = u;
		return 0;
	}
	if (sscanf(s, "part_power %u%n", &u, &n) == 1 && !s[n] && !*rp) {
		*pp = u;
		return 0;
	}
	if (sscanf(s, "replicas %u%n", &u, &n) == 1 && !s[n] && !*rp) {
		*reps = u;
		*rp = ring_new(*pp, *reps);
		if (!*rp)
			return parse_fail(err, errlen, line, "part_power or replicas out of range");
		(*rp)->version = *version;
		return 0;
	}
	if (!*rp)
		return parse_fail(err, errlen, line, "part_power and replicas must come first");
	struct ring *r = *rp;
	if (sscanf(s, "device %d zone %d weight %lf %63[0-9.]:%u %31s%n", &id, &zone, &w, host,
	           &port, name, &n) == 6 &&
	    !s[n]) {
		if (id != r->ndevs)
			return parse_fail(err, errlen, line, "device ids must count up from 0");
		if (ring_add_dev(r, zone, w, host, port, name) < 0)
			return parse_fail(err, errlen, line, "bad device");
		return 0;
	}
	size_t p;
	if (sscanf(s, "part %zu%n", &p, &n) == 1) {
		if (p != *nextpart || p >= ring_parts(r))
			return parse_fail(err, errlen, line, "partitions must count up from 0");
		char *q = s + n;
		for (unsigned k = 0; k < r->replicas; k++) {
			while (*q == ' ')
				q++;
			if (*q == '-') {
				q++;
				continue;
			}
			char *end;
			errno = 0;
			long v = strtol(q, &end, 10);
			if (end == q || errno || v < 0 || v >= r->ndevs)
				return parse_fail(err, errlen, line, "bad device id");
			r->assign[p * r->replicas + k] = (uint16_t)v;
			q = end;
		}
		if (*q)
			return parse_fail(err, errlen, line, "trailing text");
		(*nextpart)++;
		return 0;
	}
	return parse_fail(err, errlen, line, "unknown line");
}

struct ring *ring_parse(const char *text, char *err, size_t errlen)
{
	struct ring *r = NULL;
	char *copy = xstrdup(text), *save = NULL;
	unsigned pp = 0, reps = 0, version = 0;
	size_t nextpart = 0;
	int line = 0;
	for (char *s = strtok_r(copy, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
		line++;
		if (ring_parse_line(&r, s, line, &pp, &reps, &version, &nextpart, err, errlen) < 0)
			goto fail;
	}
	if (!r) {
		parse_fail(err, errlen, line, "incomplete ring");
		goto fail;
	}
	if (nextpart != 0 && nextpart != ring_parts(r)) {
		parse_fail(err, errlen, line, "partition lines missing");
		goto fail;
	}
	r->version = version;
	free(copy);
	return r;
fail:
	ring_free(r);
	free(copy);
	return NULL;
}

struct ring *ring_load(const char *path, char *err, size_t errlen)
{
	char *text = fs_read(path, 16u << 20, NULL);
	if (!text) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct ring *r = ring_parse(text, err, errlen);
	free(text);
	return r;
}

int ring_save(const struct ring *r, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	ring_write(r, f);
	fclose(f);
	int rc = fs_write_atomic(path, buf, len, 0644);
	free(buf);
	return rc;
}
