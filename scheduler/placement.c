/* Filter-and-weigh host selection. Each filter row answers "may this host take the
 * request?" and, for the reason when no host may, "what does it need?" and "what
 * does this host have?". Pure: no I/O, no globals beyond the constant table. */
#include "placement.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

long placement_free(long capacity, double ratio, long used)
{
	double total = (double)capacity * ratio;
	if (total < 0)
		total = 0;
	if (total > (double)(LONG_MAX / 4))
		total = (double)(LONG_MAX / 4);
	return (long)total - used; /* the cast truncates: floor for non-negative totals */
}

static const char *az_of(const struct placement_host *h)
{
	return h->az ? h->az : "";
}

static long free_ram(const struct placement_host *h, const struct placement_ratios *r)
{
	return placement_free(h->ram_mb, r->ram, h->used_ram_mb);
}

static long free_cores(const struct placement_host *h, const struct placement_ratios *r)
{
	return placement_free(h->vcpus, r->cpu, h->used_vcpus);
}

static long free_disk(const struct placement_host *h, const struct placement_ratios *r)
{
	return placement_free(h->disk_gb, r->disk, h->used_disk_gb);
}

/* What a reason shows for a free amount: overcommitted hosts have nothing left. */
static long shown(long v)
{
	return v < 0 ? 0 : v;
}

static int up_pass(const struct placement_host *h, const struct placement_ratios *r,
                   const struct placement_request *q)
{
	return h->up;
}

static void up_need(char *b, size_t n, const struct placement_request *q)
{
	snprintf(b, n, "no compute host is up");
}

static void up_have(char *b, size_t n, const struct placement_host *h,
                    const struct placement_ratios *r)
{
	snprintf(b, n, "%s is down", h->name);
}

int placement_az_any(const char *az)
{
	return !az || !*az || !strcmp(az, PLACEMENT_DEFAULT_AZ);
}

static int az_pass(const struct placement_host *h, const struct placement_ratios *r,
                   const struct placement_request *q)
{
	return placement_az_any(q->az) || !strcmp(az_of(h), q->az);
}

static void az_need(char *b, size_t n, const struct placement_request *q)
{
	snprintf(b, n, "no host is in availability zone \"%s\"", q->az);
}

static void az_have(char *b, size_t n, const struct placement_host *h,
                    const struct placement_ratios *r)
{
	snprintf(b, n, "%s is in \"%s\"", h->name, az_of(h));
}

static int ram_pass(const struct placement_host *h, const struct placement_ratios *r,
                    const struct placement_request *q)
{
	return free_ram(h, r) >= q->ram_mb;
}

static void ram_need(char *b, size_t n, const struct placement_request *q)
{
	snprintf(b, n, "no host has %ld MB RAM free", q->ram_mb);
}

static void ram_have(char *b, size_t n, const struct placement_host *h,
                     const struct placement_ratios *r)
{
	snprintf(b, n, "%s has %ld MB", h->name, shown(free_ram(h, r)));
}

static int cores_pass(const struct placement_host *h, const struct placement_ratios *r,
                      const struct placement_request *q)
{
	return free_cores(h, r) >= q->vcpus;
}

static void cores_need(char *b, size_t n, const struct placement_request *q)
{
	snprintf(b, n, "no host has %ld vCPUs free", q->vcpus);
}

static void cores_have(char *b, size_t n, const struct placement_host *h,
                       const struct placement_ratios *r)
{
	snprintf(b, n, "%s has %ld", h->name, shown(free_cores(h, r)));
}

static int disk_pass(const struct placement_host *h, const struct placement_ratios *r,
                     const struct placement_request *q)
{
	return free_disk(h, r) >= q->disk_gb;
}

static void disk_need(char *b, size_t n, const struct placement_request *q)
{
	snprintf(b, n, "no host has %ld GB disk free", q->disk_gb);
}

static void disk_have(char *b, size_t n, const struct placement_host *h,
                      const struct placement_ratios *r)
{
	snprintf(b, n, "%s has %ld GB", h->name, shown(free_disk(h, r)));
}

struct filter {
	const char *name;
	int (*pass)(const struct placement_host *, const struct placement_ratios *,
	            const struct placement_request *);
	void (*need)(char *, size_t, const struct placement_request *);
	void (*have)(char *, size_t, const struct placement_host *,
	             const struct placement_ratios *);
};

static const struct filter filters[] = {
    {"up", up_pass, up_need, up_have},         {"az", az_pass, az_need, az_have},
    {"ram", ram_pass, ram_need, ram_have},     {"cores", cores_pass, cores_need, cores_have},
    {"disk", disk_pass, disk_need, disk_have},
};

/* Appends to buf (size n) at *pos; a cut-off tail is simply dropped. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t n, size_t *pos, const char *fmt, ...)
{
	if (*pos + 1 >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *pos, n - *pos, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	*pos += (size_t)w;
	if (*pos >= n)
		*pos = n - 1;
}

/* "<need>: <have 1>, <have 2>, ... and N more" over the hosts a filter turned away. */
static void reason_write(const struct filter *f, const struct placement_host *hosts,
                         const size_t *idx, size_t n, const struct placement_ratios *ratios,
                         const struct placement_request *req, char *reason, size_t reasonlen)
{
	char part[PLACEMENT_REASON_MAX];
	size_t pos = 0;
	f->need(part, sizeof(part), req);
	append(reason, reasonlen, &pos, "%s", part);
	for (size_t i = 0; i < n && i < PLACEMENT_REASON_HOSTS; i++) {
		f->have(part, sizeof(part), &hosts[idx[i]], ratios);
		append(reason, reasonlen, &pos, "%s%s", i ? ", " : ": ", part);
	}
	if (n > PLACEMENT_REASON_HOSTS)
		append(reason, reasonlen, &pos, " and %zu more", n - PLACEMENT_REASON_HOSTS);
}

int placement_choose(const struct placement_host *hosts, size_t n,
                     const struct placement_ratios *ratios, const struct placement_request *req,
                     char *reason, size_t reasonlen)
{
	int chosen = -1;
	size_t *cand = xcalloc(n, sizeof(*cand));
	size_t ncand = n;
	if (reasonlen)
		reason[0] = '\0';
	for (size_t i = 0; i < n; i++)
		cand[i] = i;
	for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
		size_t kept = 0;
		for (size_t i = 0; i < ncand; i++)
			if (filters[f].pass(&hosts[cand[i]], ratios, req))
				kept++;
		if (!kept) {
			reason_write(&filters[f], hosts, cand, ncand, ratios, req, reason,
			             reasonlen);
			goto out;
		}
		/* Stable compaction keeps the input order for the next filter's reason. */
		size_t w = 0;
		for (size_t i = 0; i < ncand; i++)
			if (filters[f].pass(&hosts[cand[i]], ratios, req))
				cand[w++] = cand[i];
		ncand = w;
	}
	for (size_t i = 0; i < ncand; i++) {
		const struct placement_host *h = &hosts[cand[i]];
		if (chosen < 0) {
			chosen = (int)cand[i];
			continue;
		}
		long a = free_ram(h, ratios), b = free_ram(&hosts[chosen], ratios);
		if (a > b || (a == b && strcmp(h->name, hosts[chosen].name) < 0))
			chosen = (int)cand[i];
	}
out:
	free(cand);
	return chosen;
}
