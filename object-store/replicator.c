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
#include "parthash.h"
#include "xalloc.h"

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

/* ------------------------------------------------------------------ listings */

/* The newest version of every object of the suffixes listed (indexes; all of them on
 * disk when sfx is NULL) of partdir, appended to out; old tombstones reclaimed (and
 * their suffixes invalidated) when reclaim is set. 0, or -errno when some directory
 * could not be listed (out then misses what it holds). */
static int part_list(const char *partdir, const int *sfx, int n, int reclaim,
                     struct objentries *out)
{
	char name[4];
	int rc = 0;
	if (sfx) {
		for (int i = 0; i < n; i++) {
			parthash_suffix_name(sfx[i], name);
			long r = parthash_list_suffix(partdir, name, reclaim, 1, out);
			if (r < 0)
				rc = (int)r;
		}
		return rc;
	}
	DIR *ds = opendir(partdir);
	if (!ds)
		return -errno;
	struct dirent *s;
	while ((errno = 0, s = readdir(ds)) != NULL) {
		if (parthash_suffix_index(s->d_name, strlen(s->d_name)) < 0)
			continue;
		long r = parthash_list_suffix(partdir, s->d_name, reclaim, 1, out);
		if (r < 0)
			rc = (int)r;
	}
	if (errno)
		rc = -errno;
	closedir(ds);
	return rc;
}

/* The suffixes a REPLICATE path names after the partition: "<sfx>[-<sfx>]..." (each
 * once, at most PARTHASH_SUFFIXES) into sfx. Their count, or -EINVAL. */
static int suffixes_parse(const char *s, int *sfx)
{
	unsigned char seen[PARTHASH_SUFFIXES] = {0};
	int n = 0;
	for (;;) {
		int i = parthash_suffix_index(s, strnlen(s, 4) >= 3 ? 3 : 0);
		if (i < 0 || seen[i] || (s[3] && s[3] != '-'))
			return -EINVAL;
		seen[i] = 1;
		sfx[n++] = i;
		if (!s[3])
			return n;
		s += 4;
	}
}

/* The answer to a REPLICATE (objstore-api.md, internal protocol):
 *   /<dev>/<part>/hashes        the partition's suffix hashes (parthash_format);
 *   /<dev>/<part>/<sfx>-<sfx>…  "<hash> <newest file>" lines of those suffixes;
 *   /<dev>/<part>               the same lines for the whole partition (what a replicator
 *                               before the suffix hashes asks: a walk of every object). */
enum MHD_Result replicator_answer(const char *root, struct MHD_Connection *c, const char *url,
                                  const char *dev)
{
	char want[64], partdir[PATH_MAX];
	unsigned part;
	int n = 0;
	snprintf(want, sizeof(want), "/%s/%%u%%n", dev);
	struct MHD_Response *r = NULL;
	unsigned status = 200;
	char *buf = NULL;
	size_t len = 0;
	if (sscanf(url, want, &part, &n) != 1 || (url[n] && url[n] != '/') || part >= (1u << 24))
		goto bad;
	snprintf(partdir, sizeof(partdir), "%s/objects/%u", root, part);
	const char *rest = url[n] ? url + n + 1 : NULL;
	if (rest && !strcmp(rest, "hashes")) {
		struct parthash *h = xmalloc(sizeof(*h));
		int rc = parthash_get(partdir, 0, h, NULL);
		/* no such partition: it holds nothing; any other failure must not read as
		 * "holds nothing" (the pusher would send all of it) */
		if (rc == 0 || rc == -ENOENT)
			buf = parthash_format(h, &len);
		free(h);
		if (!buf) {
			r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
			status = 500;
			goto out;
		}
	} else {
		int *sfx = NULL, nsfx = 0;
		if (rest) {
			sfx = xmalloc(PARTHASH_SUFFIXES * sizeof(*sfx));
			if ((nsfx = suffixes_parse(rest, sfx)) < 0) {
				free(sfx);
				goto bad;
			}
		}
		struct objentries es = {0};
		int rc = part_list(partdir, sfx, nsfx, 1, &es);
		free(sfx);
		if (rc < 0 && rc != -ENOENT) { /* a listing that missed some is not the list */
			objentries_release(&es);
			r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
			status = 500;
			goto out;
		}
		FILE *f = open_memstream(&buf, &len);
		for (size_t i = 0; i < es.n; i++)
			fprintf(f, "%s %s\n", es.e[i].hash, es.e[i].file);
		fclose(f);
		objentries_release(&es);
	}
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	goto out;
bad:
	r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	status = 400;
out:;
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------------ pushing */

#define PEER_ANSWER_MAX (64u << 20)
#define PEER_SUFFIXES_PER_ASK 128 /* suffixes one REPLICATE lists (its path's length) */

/* The body of a REPLICATE of path at d into *buf (owned, NUL-terminated). 0, or -errno
 * (-EOPNOTSUPP: a 400, as an object server before the suffix hashes answers a path
 * longer than /<dev>/<part>; -EIO: another answer than 200). */
static int peer_ask(const struct ring_dev *d, const char *path, char **buf, size_t *len)
{
	struct oc oc;
	oc_init(&oc);
	*buf = NULL;
	*len = 0;
	int rc = oc_open(&oc, d->host, d->port, "REPLICATE", path, NULL, 0, 0, 5000);
	if (rc == 0)
		rc = oc_read_head(&oc);
	if (rc == 0 && oc.status != 200)
		rc = oc.status == 400 ? -EOPNOTSUPP : -EIO;
	if (rc == 0) {
		FILE *f = open_memstream(buf, len);
		char chunk[16384];
		ssize_t k;
		while ((k = oc_read(&oc, chunk, sizeof(chunk))) > 0 && *len < PEER_ANSWER_MAX) {
			fwrite(chunk, 1, (size_t)k, f);
			fflush(f);
		}
		fclose(f);
		if (k < 0)
			rc = (int)k;
		else if (k > 0)
			rc = -EFBIG;
	}
	oc_close(&oc);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* The peer's suffix hashes of part. 0 or -errno. */
static int peer_hashes(const struct ring_dev *d, unsigned part, struct parthash *out)
{
	char path[96], *buf;
	size_t len;
	snprintf(path, sizeof(path), "/%s/%u/hashes", d->name, part);
	int rc = peer_ask(d, path, &buf, &len);
	if (rc == 0)
		rc = parthash_parse(buf, len, out);
	free(buf);
	return rc;
}

/* The "<hash> <newest file>" lines a REPLICATE of path answers, appended to out. 0 or
 * -errno. */
static int peer_lines(const struct ring_dev *d, const char *path, struct objentries *out)
{
	char *buf, *save = NULL;
	size_t len;
	int rc = peer_ask(d, path, &buf, &len);
	for (char *line = rc == 0 ? strtok_r(buf, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (sp && sp - line == 32 && strlen(sp + 1) < OBJFILE_NAME_MAX) {
			*sp = '\0';
			objentries_add(out, line, sp + 1);
		}
	}
	free(buf);
	return rc;
}

/* The peer's newest file per object of the n suffixes sfx of part (of the whole
 * partition when sfx is NULL: an object server before the suffix hashes), sorted. 0 or
 * -errno. */
static int peer_entries(const struct ring_dev *d, unsigned part, const int *sfx, int n,
                        struct objentries *out)
{
	char path[96 + PEER_SUFFIXES_PER_ASK * 4];
	int rc = 0;
	if (!sfx) {
		snprintf(path, sizeof(path), "/%s/%u", d->name, part);
		rc = peer_lines(d, path, out);
	}
	for (int at = 0; sfx && rc == 0 && at < n; at += PEER_SUFFIXES_PER_ASK) {
		char *p = path + snprintf(path, 96, "/%s/%u/", d->name, part);
		for (int i = at; i < n && i < at + PEER_SUFFIXES_PER_ASK; i++) {
			parthash_suffix_name(sfx[i], p);
			p[3] = '-';
			p += 4;
		}
		p[-1] = '\0';
		rc = peer_lines(d, path, out);
	}
	objentries_sort(out);
	return rc;
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

/* What one pass did, for its log line. */
struct pass_stats {
	long parts, rehashed, differ, pushed, failed; /* failed: local hashes not read */
};

time_t replicator_full_done(time_t last_full, time_t now, int full, int stopped, long failed)
{
	return full && !stopped && !failed ? now : last_full;
}

/* One partition: compare its suffix hashes with each other replica's, and push the
 * versions of the suffixes that differ that the replica lacks or holds older; a handoff
 * partition goes once they all have it. full: rehash every suffix. */
static void replicate_part(struct replicator *rp, const struct ring *ring, unsigned part,
                           const char *partdir, int full, struct pass_stats *st)
{
	int prim[RING_MAX_REPLICAS], self = -1;
	ring_primaries(ring, part, prim);
	for (unsigned k = 0; k < ring->replicas; k++)
		if (prim[k] != RING_NONE && !strcmp(ring->devs[prim[k]].name, rp->dev.name) &&
		    ring->devs[prim[k]].port == rp->dev.port)
			self = prim[k];
	struct parthash *mine = xmalloc(sizeof(*mine)), *theirs = xmalloc(sizeof(*theirs));
	int *differ = xmalloc(PARTHASH_SUFFIXES * sizeof(*differ));
	long rehashed = 0;
	/* a handoff's copy is removed on what this listing says: never on a cache (a write
	 * whose invalidation was lost would be left out), always rehashed from the disk */
	int grc = parthash_get(partdir, full || self < 0, mine, &rehashed);
	int local_ok = grc == 0, have = 0;
	st->failed += grc < 0 && grc != -ENOENT; /* (gone meanwhile: nothing to retry) */
	/* all_ok: every primary was reached and took every push (a handoff copy may go);
	 * a primary that fails does not keep the others from their pushes */
	int all_ok = local_ok;
	st->rehashed += rehashed;
	for (int i = 0; i < PARTHASH_SUFFIXES; i++)
		have += mine->state[i] != PARTHASH_ABSENT;
	/* a primary holding nothing has nothing to push (the others push to it) */
	for (unsigned k = 0; local_ok && (have || self < 0) && k < ring->replicas; k++) {
		if (prim[k] == RING_NONE || prim[k] == self)
			continue;
		const struct ring_dev *d = &ring->devs[prim[k]];
		int rc = peer_hashes(d, part, theirs);
		/* an object server before the suffix hashes (a rolling upgrade): every suffix
		 * differs, and its answer for the whole partition is compared */
		int legacy = rc == -EOPNOTSUPP;
		if (rc < 0 && !legacy) {
			all_ok = 0;
			continue;
		}
		if (legacy)
			memset(theirs->state, PARTHASH_ABSENT, sizeof(theirs->state));
		/* old tombstones are reclaimed when a suffix is listed and never pushed: a
		 * peer that reclaimed its copy must not get one back (each copy carries its
		 * first arrival's time, so the replicas of one tombstone come of age
		 * together); a suffix only the peer holds is its replicator's to push */
		int n = 0;
		for (int i = 0; i < PARTHASH_SUFFIXES; i++)
			if (mine->state[i] != PARTHASH_ABSENT &&
			    (mine->state[i] != PARTHASH_VALID ||
			     theirs->state[i] != PARTHASH_VALID ||
			     strcmp(mine->hash[i], theirs->hash[i])))
				differ[n++] = i;
		if (!n)
			continue;
		st->differ += n;
		struct objentries te = {0}, me = {0};
		if (peer_entries(d, part, legacy ? NULL : differ, n, &te) < 0) {
			all_ok = 0;
			objentries_release(&te);
			continue;
		}
		if (part_list(partdir, differ, n, 1, &me) < 0)
			all_ok = 0; /* what was listed is pushed; the copy stays */
		for (size_t i = 0; i < me.n; i++) {
			const char *t = objentries_find(&te, me.e[i].hash);
			if (t && strncmp(t, me.e[i].file, OBJFILE_TS_LEN - 1) >= 0)
				continue;
			char hdir[PATH_MAX];
			objfile_dir(rp->root, part, me.e[i].hash, hdir, sizeof(hdir));
			if (push_one(hdir, me.e[i].file, d, part) == 0)
				st->pushed++;
			else
				all_ok = 0;
		}
		objentries_release(&te);
		objentries_release(&me);
	}
	if (self < 0 && all_ok) {
		/* every primary has all of it: this handoff copy has done its job */
		fs_remove_tree(partdir);
		log_info("replicator %s: handoff partition %u returned to its primaries",
		         rp->dev.name, part);
	}
	free(mine);
	free(theirs);
	free(differ);
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

static long elapsed_ms(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void *replicator_main(void *arg)
{
	struct replicator *rp = arg;
	time_t last_full = 0; /* the first pass rehashes everything (parthash.h) */
	while (!rp_wait(rp, rp->interval)) {
		char err[256], objs[1100];
		struct ring *ring = ring_load(rp->ring_file, err, sizeof(err));
		if (!ring)
			continue;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		time_t now = time(NULL);
		int full =
		    !last_full || now - last_full >= PARTHASH_FULL_EVERY_S || now < last_full;
		snprintf(objs, sizeof(objs), "%s/objects", rp->root);
		DIR *d = opendir(objs);
		struct pass_stats st = {0};
		struct dirent *e;
		while (d && (e = readdir(d)) && !rp->stop) {
			char *end;
			unsigned long part = strtoul(e->d_name, &end, 10);
			if (*end || e->d_name[0] < '0' || e->d_name[0] > '9' ||
			    part >= (1ul << ring->part_power))
				continue;
			char partdir[PATH_MAX];
			snprintf(partdir, sizeof(partdir), "%s/%s", objs, e->d_name);
			replicate_part(rp, ring, (unsigned)part, partdir, full, &st);
			st.parts++;
		}
		if (d)
			closedir(d);
		last_full = replicator_full_done(last_full, now, full, rp->stop, st.failed);
		log_msg(st.failed                          ? LOG_LVL_WARN
		        : st.pushed || st.rehashed || full ? LOG_LVL_INFO
		                                           : LOG_LVL_DEBUG,
		        "replicator %s: %spass over %ld partitions in %ld ms, %ld suffixes "
		        "rehashed, %ld differing, %ld versions pushed, %ld failed to rehash",
		        rp->dev.name, full ? "full " : "", st.parts, elapsed_ms(&t0), st.rehashed,
		        st.differ, st.pushed, st.failed);
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
			struct objentries es = {0};
			part_list(pdir, NULL, 0, 0, &es);
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
			objentries_release(&es);
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
