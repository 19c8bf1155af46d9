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

/* Weighers, in rank order: each says whether a goes before b (> 0), after (< 0) or
 * ties (0), when the next one decides. */
static int local_weigh(const struct placement_host *a, const struct placement_host *b,
                       const struct placement_ratios *r)
{
	return !!a->local - !!b->local;
}

static int ram_weigh(const struct placement_host *a, const struct placement_host *b,
                     const struct placement_ratios *r)
{
	long x = free_ram(a, r), y = free_ram(b, r);
	return x > y ? 1 : x < y ? -1 : 0;
}

static int name_weigh(const struct placement_host *a, const struct placement_host *b,
                      const struct placement_ratios *r)
{
	return -strcmp(a->name, b->name);
}

static const struct weigher {
	const char *name;
	int (*weigh)(const struct placement_host *, const struct placement_host *,
	             const struct placement_ratios *);
} weighers[] = {
    {"volume-local", local_weigh},
    {"ram", ram_weigh},
    {"name", name_weigh},
};

/* 1 when the weighers rank a before b. */
static int host_before(const struct placement_host *a, const struct placement_host *b,
                       const struct placement_ratios *r)
{
	for (size_t i = 0; i < sizeof(weighers) / sizeof(weighers[0]); i++) {
		int w = weighers[i].weigh(a, b, r);
		if (w)
			return w > 0;
	}
	return 0;
}

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
	for (size_t i = 0; i < ncand; i++)
		if (chosen < 0 || host_before(&hosts[cand[i]], &hosts[chosen], ratios))
			chosen = (int)cand[i];
out:
	free(cand);
	return chosen;
}

/* Members of g on host h. */
static long group_count(const struct placement_group *g, const struct placement_host *h)
{
	long k = 0;
	for (size_t i = 0; i < g->n_members; i++)
		if (g->member_hosts[i] && !strcmp(g->member_hosts[i], h->name))
			k++;
	return k;
}

/* placement_choose over the hosts whose member count is `want` (keep = count == want)
 * or below `limit` (keep = count < limit); the index is mapped back into hosts. */
static int choose_among(const struct placement_host *hosts, size_t n, const long *count, int below,
                        long v, const struct placement_ratios *ratios,
                        const struct placement_request *req, char *reason, size_t reasonlen)
{
	struct placement_host *sub = xcalloc(n ? n : 1, sizeof(*sub));
	size_t *from = xcalloc(n ? n : 1, sizeof(*from)), m = 0;
	for (size_t i = 0; i < n; i++)
		if (below ? count[i] < v : count[i] == v) {
			sub[m] = hosts[i];
			from[m++] = i;
		}
	int k = m ? placement_choose(sub, m, ratios, req, reason, reasonlen) : -1;
	int chosen = k < 0 ? -1 : (int)from[k];
	free(sub);
	free(from);
	return chosen;
}

int placement_choose_grouped(const struct placement_host *hosts, size_t n,
                             const struct placement_ratios *ratios,
                             const struct placement_request *req, const struct placement_group *g,
                             char *reason, size_t reasonlen)
{
	if (!g || !g->policy)
		return placement_choose(hosts, n, ratios, req, reason, reasonlen);
	if (reasonlen)
		reason[0] = '\0';
	long *count = xcalloc(n ? n : 1, sizeof(*count)), most = 0, fewest = -1;
	for (size_t i = 0; i < n; i++) {
		count[i] = group_count(g, &hosts[i]);
		if (count[i] > most)
			most = count[i];
		if (hosts[i].up && (fewest < 0 || count[i] < fewest))
			fewest = count[i];
	}
	int k = -1, hard = 0;
	if (!strcmp(g->policy, "affinity")) {
		hard = 1;
		k = most ? choose_among(hosts, n, count, 0, most, ratios, req, reason, reasonlen)
		         : placement_choose(hosts, n, ratios, req, reason, reasonlen);
	} else if (!strcmp(g->policy, "anti-affinity")) {
		hard = 1;
		long limit = g->max_per_host > 0 ? g->max_per_host : 1;
		k = choose_among(hosts, n, count, 1, limit, ratios, req, reason, reasonlen);
	} else if (!strcmp(g->policy, "soft-affinity") && most) {
		k = choose_among(hosts, n, count, 0, most, ratios, req, reason, reasonlen);
	} else if (!strcmp(g->policy, "soft-anti-affinity") && fewest >= 0) {
		k = choose_among(hosts, n, count, 0, fewest, ratios, req, reason, reasonlen);
	}
	if (k < 0 && !hard) /* soft: any host will do */
		k = placement_choose(hosts, n, ratios, req, reason, reasonlen);
	if (k < 0 && hard) {
		/* say which policy turned the hosts away, and what each one holds */
		char inner[PLACEMENT_REASON_MAX];
		size_t pos = 0;
		snprintf(inner, sizeof(inner), "%s", reasonlen ? reason : "");
		append(reason, reasonlen, &pos, "no host satisfies server group policy %s",
		       g->policy);
		for (size_t i = 0, shown_n = 0; i < n && shown_n < PLACEMENT_REASON_HOSTS; i++)
			if (hosts[i].up)
				append(reason, reasonlen, &pos, "%s%s holds %ld member%s",
				       shown_n++ ? ", " : ": ", hosts[i].name, count[i],
				       count[i] == 1 ? "" : "s");
		if (inner[0])
			append(reason, reasonlen, &pos, " (%s)", inner);
	}
	free(count);
	return k;
}

/* Storage placement: the same shape over struct placement_store, with the requested
 * size as the request. */
static int store_up_pass(const struct placement_store *h, long size_gb)
{
	return h->up;
}

static void store_up_need(char *b, size_t n, long size_gb)
{
	snprintf(b, n, "no storage host is up");
}

static void store_up_have(char *b, size_t n, const struct placement_store *h)
{
	snprintf(b, n, "%s is down", h->name);
}

static int store_local_pass(const struct placement_store *h, long size_gb)
{
	return h->local;
}

static void store_local_need(char *b, size_t n, long size_gb)
{
	snprintf(b, n, "no storage host runs on the server's machine");
}

static void store_local_have(char *b, size_t n, const struct placement_store *h)
{
	snprintf(b, n, "%s is on another", h->name);
}

static int store_space_pass(const struct placement_store *h, long size_gb)
{
	return h->free_gb >= size_gb;
}

static void store_space_need(char *b, size_t n, long size_gb)
{
	snprintf(b, n, "no storage host has %ld GB free", size_gb);
}

static void store_space_have(char *b, size_t n, const struct placement_store *h)
{
	snprintf(b, n, "%s has %ld GB", h->name, shown(h->free_gb));
}

static const struct store_filter {
	const char *name;
	int local_only; /* the row applies only under the local_to_instance hint */
	int (*pass)(const struct placement_store *, long);
	void (*need)(char *, size_t, long);
	void (*have)(char *, size_t, const struct placement_store *);
} store_filters[] = {
    {"up", 0, store_up_pass, store_up_need, store_up_have},
    {"local", 1, store_local_pass, store_local_need, store_local_have},
    {"space", 0, store_space_pass, store_space_need, store_space_have},
};

/* 1 when a goes before b: local, then most free, then the smaller name. */
static int store_before(const struct placement_store *a, const struct placement_store *b)
{
	if (!!a->local != !!b->local)
		return !!a->local;
	if (a->free_gb != b->free_gb)
		return a->free_gb > b->free_gb;
	return strcmp(a->name, b->name) < 0;
}

int placement_store_choose(const struct placement_store *hosts, size_t n, long size_gb,
                           int local_only, char *reason, size_t reasonlen)
{
	int chosen = -1;
	size_t *cand = xcalloc(n ? n : 1, sizeof(*cand));
	size_t ncand = n;
	if (reasonlen)
		reason[0] = '\0';
	for (size_t i = 0; i < n; i++)
		cand[i] = i;
	for (size_t f = 0; f < sizeof(store_filters) / sizeof(store_filters[0]); f++) {
		const struct store_filter *sf = &store_filters[f];
		if (sf->local_only && !local_only)
			continue;
		size_t w = 0;
		for (size_t i = 0; i < ncand; i++)
			if (sf->pass(&hosts[cand[i]], size_gb))
				w++;
		if (!w) {
			char part[PLACEMENT_REASON_MAX];
			size_t pos = 0;
			sf->need(part, sizeof(part), size_gb);
			append(reason, reasonlen, &pos, "%s", part);
			for (size_t i = 0; i < ncand && i < PLACEMENT_REASON_HOSTS; i++) {
				sf->have(part, sizeof(part), &hosts[cand[i]]);
				append(reason, reasonlen, &pos, "%s%s", i ? ", " : ": ", part);
			}
			if (ncand > PLACEMENT_REASON_HOSTS)
				append(reason, reasonlen, &pos, " and %zu more",
				       ncand - PLACEMENT_REASON_HOSTS);
			goto out;
		}
		w = 0;
		for (size_t i = 0; i < ncand; i++)
			if (sf->pass(&hosts[cand[i]], size_gb))
				cand[w++] = cand[i];
		ncand = w;
	}
	for (size_t i = 0; i < ncand; i++)
		if (chosen < 0 || store_before(&hosts[cand[i]], &hosts[chosen]))
			chosen = (int)cand[i];
out:
	free(cand);
	return chosen;
}
