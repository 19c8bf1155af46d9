/* Replicator and auditor threads of an object server device.
 *
 * Replication is push: for every partition directory on this device, ask each other
 * replica of the partition (REPLICATE) for the newest version of every object it
 * holds, and send what it lacks or holds older (a PUT of the .data with its original
 * timestamp, or a DELETE with the tombstone's). The receiving object server keeps the
 * newest, so two replicators pushing at once cannot undo each other. A partition this
 * device holds only as a handoff is removed once every primary has all of it. */
#include "replicator.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "objclient.h"
#include "objfile.h"
#include "objserver.h"
#include "xalloc.h"

#define REPLICATOR_RECLAIM_AGE (7 * 24 * 3600) /* tombstones older are removed */

struct replicator {
	char root[1024];
	char ring_file[1024];
	struct ring_dev dev;
	long interval, audit_rate;
	pthread_t rep, aud;
	int have_rep, have_aud;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

/* ------------------------------------------------------------------ listing a partition */

struct entry {
	char hash[33];
	char file[OBJFILE_TS_LEN + 8]; /* newest version file name */
};

struct entries {
	struct entry *e;
	size_t n;
};

static int is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* The newest version of every object under partdir. */
static void part_list(const char *partdir, struct entries *out)
{
	out->e = NULL;
	out->n = 0;
	DIR *ds = opendir(partdir);
	if (!ds)
		return;
	struct dirent *s;
	while ((s = readdir(ds))) {
		if (!is_hex(s->d_name, 3))
			continue;
		char sdir[PATH_MAX];
		snprintf(sdir, sizeof(sdir), "%s/%s", partdir, s->d_name);
		DIR *dh = opendir(sdir);
		if (!dh)
			continue;
		struct dirent *h;
		while ((h = readdir(dh))) {
			if (!is_hex(h->d_name, 32))
				continue;
			char hdir[PATH_MAX + 300], ts[OBJFILE_TS_LEN];
			snprintf(hdir, sizeof(hdir), "%s/%s", sdir, h->d_name);
			enum objfile_kind k = objfile_newest(hdir, ts);
			if (k == OBJFILE_NONE)
				continue;
			out->e = xrealloc(out->e, (out->n + 1) * sizeof(*out->e));
			struct entry *e = &out->e[out->n++];
			memcpy(e->hash, h->d_name, 33);
			snprintf(e->file, sizeof(e->file), "%s%s", ts,
			         k == OBJFILE_DATA ? ".data" : ".ts");
		}
		closedir(dh);
	}
	closedir(ds);
}

enum MHD_Result replicator_answer(const char *root, struct MHD_Connection *c, const char *url,
                                  const char *dev)
{
	/* url: /<dev>/<part> */
	char want[64];
	unsigned part;
	int n = 0;
	snprintf(want, sizeof(want), "/%s/%%u%%n", dev);
	struct MHD_Response *r;
	unsigned status = 200;
	if (sscanf(url, want, &part, &n) != 1 || url[n]) {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		status = 400;
	} else {
		char partdir[PATH_MAX];
		snprintf(partdir, sizeof(partdir), "%s/objects/%u", root, part);
		struct entries es;
		part_list(partdir, &es);
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		for (size_t i = 0; i < es.n; i++)
			fprintf(f, "%s %s\n", es.e[i].hash, es.e[i].file);
		fclose(f);
		free(es.e);
		r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	}
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------------ pushing */

/* The peer's newest file per hash (its REPLICATE answer). -errno when it did not
 * answer. */
static int peer_list(const struct ring_dev *d, unsigned part, struct entries *out)
{
	out->e = NULL;
	out->n = 0;
	struct oc oc;
	char path[64];
	snprintf(path, sizeof(path), "/%s/%u", d->name, part);
	int rc = oc_open(&oc, d->host, d->port, "REPLICATE", path, NULL, 0, 0, 2000);
	if (rc == 0)
		rc = oc_read_head(&oc);
	if (rc == 0 && oc.status != 200)
		rc = -EIO;
	char *buf = NULL;
	size_t len = 0;
	if (rc == 0) {
		FILE *f = open_memstream(&buf, &len);
		char chunk[16384];
		ssize_t k;
		while ((k = oc_read(&oc, chunk, sizeof(chunk))) > 0 && len < (64u << 20))
			fwrite(chunk, 1, (size_t)k, f);
		fclose(f);
		if (k < 0)
			rc = (int)k;
	}
	oc_close(&oc);
	if (rc == 0 && buf) {
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			struct entry e;
			if (sscanf(line, "%32s %24s", e.hash, e.file) != 2)
				continue;
			out->e = xrealloc(out->e, (out->n + 1) * sizeof(*out->e));
			out->e[out->n++] = e;
		}
	}
	free(buf);
	return rc;
}

static const char *peer_file(const struct entries *es, const char *hash)
{
	for (size_t i = 0; i < es->n; i++)
		if (!strcmp(es->e[i].hash, hash))
			return es->e[i].file;
	return NULL;
}

static void hdr_add(char ***h, int *n, char *line)
{
	*h = xrealloc(*h, (size_t)(*n + 2) * sizeof(char *));
	(*h)[(*n)++] = line;
	(*h)[*n] = NULL;
}

/* Sends one version file to d. 0 when d has it now (201, or 409: it has newer). */
static int push_one(const char *hdir, const char *file, const struct ring_dev *d, unsigned part)
{
	char path[PATH_MAX + 64], ts[OBJFILE_TS_LEN];
	snprintf(path, sizeof(path), "%s/%s", hdir, file);
	snprintf(ts, sizeof(ts), "%.16s", file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = -EIO;
	char **hdrs = NULL, *url = NULL;
	int nh = 0;
	json_t *meta = NULL;
	struct oc oc;
	memset(&oc, 0, sizeof(oc));
	oc.fd = -1;
	hdr_add(&hdrs, &nh, xasprintf("X-Timestamp: %s", ts));
	if (strstr(file, ".ts")) {
		struct stat st;
		if (fstat(fd, &st) == 0)
			hdr_add(&hdrs, &nh,
			        xasprintf(OBJFILE_WRITTEN_HEADER ": %lld", (long long)st.st_mtime));
		char name[2048];
		ssize_t k = pread(fd, name, sizeof(name) - 1, 0);
		if (k <= 0)
			goto out;
		name[k] = '\0';
		url = xasprintf("/%s/%u%s", d->name, part, name);
		rc = oc_open(&oc, d->host, d->port, "DELETE", url, (const char *const *)hdrs, 0, 0,
		             2000);
		if (rc == 0)
			rc = oc_read_head(&oc);
		if (rc == 0)
			rc = oc.status == 204 || oc.status == 404 || oc.status == 409 ? 0 : -EIO;
		goto out;
	}
	meta = objfile_header_read(fd);
	const char *name = json_string_value(json_object_get(meta, "name"));
	json_int_t size = json_integer_value(json_object_get(meta, "size"));
	const char *etag = json_string_value(json_object_get(meta, "etag"));
	if (!name || size < 0 || !etag || !objfile_intact(fd, (uint64_t)size, etag))
		goto out; /* the auditor's business: never spread a corrupt copy */
	hdr_add(&hdrs, &nh, xasprintf("Etag: %s", etag));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(meta, "h"), k, v)
	{
		if (json_is_string(v))
			hdr_add(&hdrs, &nh, xasprintf("%s: %s", k, json_string_value(v)));
	}
	url = xasprintf("/%s/%u%s", d->name, part, name);
	rc = oc_open(&oc, d->host, d->port, "PUT", url, (const char *const *)hdrs, size, 1, 2000);
	if (rc == 0 && oc.status == 409) {
		rc = 0;
		goto out;
	}
	if (rc == 0 && oc.status != 100)
		rc = -EIO;
	char buf[65536];
	for (json_int_t at = 0; rc == 0 && at < size;) {
		size_t want =
		    (size_t)(size - at < (json_int_t)sizeof(buf) ? size - at
		                                                 : (json_int_t)sizeof(buf));
		ssize_t n = pread(fd, buf, want, (off_t)(OBJFILE_HEADER + at));
		if (n <= 0) {
			rc = -EIO;
			break;
		}
		rc = oc_write(&oc, buf, (size_t)n);
		at += n;
	}
	if (rc == 0)
		rc = oc_finish(&oc);
	if (rc == 0)
		rc = oc.status == 201 || oc.status == 409 ? 0 : -EIO;
out:
	oc_close(&oc);
	json_decref(meta);
	for (int i = 0; i < nh; i++)
		free(hdrs[i]);
	free(hdrs);
	free(url);
	close(fd);
	return rc;
}

int replicator_reclaimable(double ts, time_t mtime, time_t now, long age)
{
	return (double)now - ts >= (double)age && now - mtime >= age;
}

/* Removes a tombstone under hdir that replicator_reclaimable allows. 1 when it did. */
static int reclaim(const char *hdir, const char *file)
{
	if (!strstr(file, ".ts"))
		return 0;
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/%s", hdir, file);
	struct stat st;
	if (stat(p, &st) < 0 || !replicator_reclaimable(strtod(file, NULL), st.st_mtime, time(NULL),
	                                                REPLICATOR_RECLAIM_AGE))
		return 0;
	unlink(p);
	rmdir(hdir);
	return 1;
}

/* One partition: push to the other replicas; a handoff partition goes once they all
 * have it. Returns the versions pushed. */
static long replicate_part(struct replicator *rp, const struct ring *ring, unsigned part,
                           const char *partdir)
{
	int prim[RING_MAX_REPLICAS], self = -1;
	ring_primaries(ring, part, prim);
	for (unsigned k = 0; k < ring->replicas; k++)
		if (prim[k] != RING_NONE && !strcmp(ring->devs[prim[k]].name, rp->dev.name) &&
		    ring->devs[prim[k]].port == rp->dev.port)
			self = prim[k];
	struct entries mine;
	part_list(partdir, &mine);
	/* old tombstones go first and are never pushed: a peer that reclaimed its copy
	 * must not get one back (each copy carries its first arrival's time, so the
	 * replicas of one tombstone come of age together) */
	for (size_t i = 0; i < mine.n; i++) {
		char hdir[PATH_MAX];
		objfile_dir(rp->root, part, mine.e[i].hash, hdir, sizeof(hdir));
		if (reclaim(hdir, mine.e[i].file))
			mine.e[i].file[0] = '\0';
	}
	long pushed = 0;
	int all_ok = 1;
	for (unsigned k = 0; k < ring->replicas; k++) {
		if (prim[k] == RING_NONE || prim[k] == self)
			continue;
		const struct ring_dev *d = &ring->devs[prim[k]];
		struct entries theirs;
		if (peer_list(d, part, &theirs) < 0) {
			all_ok = 0;
			continue;
		}
		for (size_t i = 0; i < mine.n; i++) {
			if (!mine.e[i].file[0])
				continue; /* reclaimed above */
			const char *t = peer_file(&theirs, mine.e[i].hash);
			if (t && strncmp(t, mine.e[i].file, OBJFILE_TS_LEN - 1) >= 0)
				continue;
			char hdir[PATH_MAX];
			objfile_dir(rp->root, part, mine.e[i].hash, hdir, sizeof(hdir));
			if (push_one(hdir, mine.e[i].file, d, part) == 0)
				pushed++;
			else
				all_ok = 0;
		}
		free(theirs.e);
	}
	if (self < 0 && all_ok) {
		/* every primary has all of it: this handoff copy has done its job */
		fs_remove_tree(partdir);
		log_info("replicator %s: handoff partition %u returned to its primaries",
		         rp->dev.name, part);
	}
	free(mine.e);
	return pushed;
}

/* Waits ms on the monotonic clock (rp->cv's: a step of the wall clock neither lengthens
 * nor shortens it), or until a stop. 1 when stopped. */
static int rp_wait_ms(struct replicator *rp, long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&rp->mu);
	while (!rp->stop && pthread_cond_timedwait(&rp->cv, &rp->mu, &until) == 0)
		;
	int stop = rp->stop;
	pthread_mutex_unlock(&rp->mu);
	return stop;
}

static int rp_wait(struct replicator *rp, long seconds)
{
	return rp_wait_ms(rp, seconds * 1000);
}

static void *replicator_main(void *arg)
{
	struct replicator *rp = arg;
	while (!rp_wait(rp, rp->interval)) {
		char err[256], objs[1100];
		struct ring *ring = ring_load(rp->ring_file, err, sizeof(err));
		if (!ring)
			continue;
		snprintf(objs, sizeof(objs), "%s/objects", rp->root);
		DIR *d = opendir(objs);
		long pushed = 0, parts = 0;
		struct dirent *e;
		while (d && (e = readdir(d)) && !rp->stop) {
			char *end;
			unsigned long part = strtoul(e->d_name, &end, 10);
			if (*end || e->d_name[0] < '0' || e->d_name[0] > '9' ||
			    part >= (1ul << ring->part_power))
				continue;
			char partdir[PATH_MAX];
			snprintf(partdir, sizeof(partdir), "%s/%s", objs, e->d_name);
			pushed += replicate_part(rp, ring, (unsigned)part, partdir);
			parts++;
		}
		if (d)
			closedir(d);
		if (pushed)
			log_info("replicator %s: pass over %ld partitions, %ld versions pushed",
			         rp->dev.name, parts, pushed);
		ring_free(ring);
	}
	return NULL;
}

/* ------------------------------------------------------------------ auditor */

static long audit_file(struct replicator *rp, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	json_t *meta = objfile_header_read(fd);
	json_int_t size = json_integer_value(json_object_get(meta, "size"));
	const char *etag = json_string_value(json_object_get(meta, "etag"));
	struct stat st;
	int bad = !meta || size < 0 || !etag || fstat(fd, &st) < 0 ||
	          st.st_size != (off_t)(OBJFILE_HEADER + size) ||
	          !objfile_intact(fd, (uint64_t)size, etag);
	close(fd);
	json_decref(meta);
	if (bad)
		objserver_quarantine(rp->root, path);
	return size > 0 ? (long)size : 0;
}

long replicator_audit_pause_ms(long *owed, long bytes, long rate)
{
	*owed += bytes + REPLICATOR_AUDIT_FILE_BYTES;
	long ms = *owed * 1000 / rate;
	*owed -= ms * rate / 1000;
	return ms;
}

long replicator_audit_slice_ms(long *left)
{
	long ms = *left < REPLICATOR_AUDIT_SLICE_MS ? *left : REPLICATOR_AUDIT_SLICE_MS;
	*left -= ms;
	return ms;
}

/* Pauses ms in slices of at most REPLICATOR_AUDIT_SLICE_MS (a 5 GiB object at 10 MiB/s
 * owes 512 s). 1 when stopped meanwhile (a stop wakes the wait at once). */
static int audit_pause(struct replicator *rp, long ms)
{
	while (ms > 0)
		if (rp_wait_ms(rp, replicator_audit_slice_ms(&ms)))
			return 1;
	return 0;
}

/* Walks every .data file, reading at most audit_rate bytes a second (a file counts
 * its header too: with the bytes alone, a small object's pause rounded down to none
 * and a pass over many small objects ran unthrottled). */
static void *auditor_main(void *arg)
{
	struct replicator *rp = arg;
	while (!rp_wait(rp, 5)) {
		char objs[1100];
		snprintf(objs, sizeof(objs), "%s/objects", rp->root);
		long files = 0, owed = 0;
		DIR *dp = opendir(objs);
		struct dirent *p;
		while (dp && (p = readdir(dp)) && !rp->stop) {
			if (p->d_name[0] == '.')
				continue;
			char pdir[PATH_MAX];
			snprintf(pdir, sizeof(pdir), "%s/%s", objs, p->d_name);
			struct entries es;
			part_list(pdir, &es);
			for (size_t i = 0; i < es.n && !rp->stop; i++) {
				if (!strstr(es.e[i].file, ".data"))
					continue;
				char path[PATH_MAX + 80];
				snprintf(path, sizeof(path), "%s/%s/%s/%s", pdir, es.e[i].hash + 29,
				         es.e[i].hash, es.e[i].file);
				long bytes = audit_file(rp, path);
				files++;
				/* the rate bound: sleep what those bytes are worth */
				long ms = replicator_audit_pause_ms(&owed, bytes, rp->audit_rate);
				if (audit_pause(rp, ms))
					break;
			}
			free(es.e);
		}
		if (dp)
			closedir(dp);
		log_debug("auditor %s: pass over %ld objects", rp->dev.name, files);
		if (rp_wait(rp, 25))
			break;
	}
	return NULL;
}

struct replicator *replicator_start(const char *root, const struct ring_dev *dev,
                                    const char *ring_file, long interval, long audit_rate)
{
	struct replicator *rp = xcalloc(1, sizeof(*rp));
	snprintf(rp->root, sizeof(rp->root), "%s", root);
	snprintf(rp->ring_file, sizeof(rp->ring_file), "%s", ring_file);
	rp->dev = *dev;
	rp->interval = interval > 0 ? interval : 30;
	rp->audit_rate = audit_rate;
	pthread_mutex_init(&rp->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* rp_wait_ms's clock */
	pthread_cond_init(&rp->cv, &ca);
	pthread_condattr_destroy(&ca);
	rp->have_rep = pthread_create(&rp->rep, NULL, replicator_main, rp) == 0;
	if (audit_rate > 0)
		rp->have_aud = pthread_create(&rp->aud, NULL, auditor_main, rp) == 0;
	return rp;
}

void replicator_stop(struct replicator *rp)
{
	if (!rp)
		return;
	pthread_mutex_lock(&rp->mu);
	rp->stop = 1;
	pthread_cond_broadcast(&rp->cv);
	pthread_mutex_unlock(&rp->mu);
	if (rp->have_rep)
		pthread_join(rp->rep, NULL);
	if (rp->have_aud)
		pthread_join(rp->aud, NULL);
	pthread_cond_destroy(&rp->cv);
	pthread_mutex_destroy(&rp->mu);
	free(rp);
}
