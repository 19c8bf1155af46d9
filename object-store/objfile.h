/* One device's files: where an object's versions live, the newest of them, and the 8 KiB
 * metadata header in front of a .data file's bytes (docs/objstore-api.md, "Disk"). */
#ifndef NUBO_OBJSTORE_OBJFILE_H
#define NUBO_OBJSTORE_OBJFILE_H
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define OBJFILE_HEADER 8192 /* bytes before the object's data in a .data file */
#define OBJFILE_TS_LEN 17

enum objfile_kind { OBJFILE_NONE, OBJFILE_DATA, OBJFILE_TOMBSTONE };

/* 1 when ts is an X-Timestamp: 10 digits, '.', 5 digits. Pure. */
int objfile_ts_valid(const char *ts);
/* "<dev>/objects/<part>/<suffix>/<hash>" into out. */
void objfile_dir(const char *dev, unsigned part, const char *hash, char *out, size_t n);
/* The newest version in dir: its kind and timestamp (ts[OBJFILE_TS_LEN]); OBJFILE_NONE
 * when dir holds none (or does not exist). */
enum objfile_kind objfile_newest(const char *dir, char *ts);
/* objfile_newest that also hands back the directory, open (O_DIRECTORY), in *dirfd (-1
 * when it could not be opened; the caller closes it): a GET opens the version's file
 * relative to it (openat) instead of walking the whole path again. */
enum objfile_kind objfile_newest_keep(const char *dir, char *ts, int *dirfd);
/* objfile_newest for a listing that must not mistake an unreadable directory for an
 * empty one: the kind into *kind; 0, or -errno when dir exists but could not be read
 * (EMFILE, EIO, EACCES...). */
int objfile_newest_checked(const char *dir, char *ts, enum objfile_kind *kind);
#define OBJFILE_NAME_MAX (OBJFILE_TS_LEN + 5) /* "<ts>.data" and its NUL */
/* One pass over the open hash directory d (rewound first): returns the newest
 * version's kind with its timestamp in ts, and the names of up to max version files
 * into names (*n of them, -1 when there were more: prune with objfile_prune then). A
 * PUT reads its directory once for both the newest-wins check and what to prune. */
enum objfile_kind objfile_scan(DIR *d, char *ts, char (*names)[OBJFILE_NAME_MAX], int max, int *n);
/* Removes the versions in dir older than ts (after a newer one landed). */
void objfile_prune(const char *dir, const char *ts);
/* Writes the header (JSON, NUL padded to OBJFILE_HEADER) at offset 0 of fd. 0, -E2BIG
 * when the JSON does not fit, or -errno. */
int objfile_header_write(int fd, const json_t *meta);
/* Reads and parses the header of the .data file open at fd. NULL when it is not one. */
json_t *objfile_header_read(int fd);
/* Parses a header (the OBJFILE_HEADER bytes at buf: JSON, then NUL padding): an object,
 * or NULL. Pure. */
json_t *objfile_header_parse(const char *buf);
/* One pread of the header and the first cap - OBJFILE_HEADER bytes of the object (a
 * small GET's whole answer: one read instead of two): the header parsed into *meta, and
 * how many of the object's bytes follow it in buf; -EIO (and *meta NULL) when the file
 * has no valid header. cap >= OBJFILE_HEADER. */
ssize_t objfile_read_start(int fd, char *buf, size_t cap, json_t **meta);
/* mkdir -p dir, fsyncing each parent a level was created in. 0 or -errno. */
int objfile_mkdirs(const char *dir);
/* mkdir -p dir without fsyncing; *made counts the levels created (or found created by
 * a racing writer). A PUT makes its directories before its data's fsync, whose journal
 * commit then carries them, and makes them durable after its rename with
 * objfile_sync_parents (nothing left to commit by then on a journaling fs, so those
 * fsyncs are cheap). 0 or -errno. */
int objfile_mkdirs_lazy(const char *dir, int *made);
/* fsyncs the parents of the levels of dir that objfile_mkdirs_lazy made: the parent of
 * dir, then its parent, levels in all. */
void objfile_sync_parents(const char *dir, int levels);

/* 1 when the size bytes after the header of the .data file at fd hash to etag. */
int objfile_intact(int fd, uint64_t size, const char *etag);

/* The header a replicator's tombstone push carries: when the tombstone first arrived
 * on a device (seconds since the epoch), which the copy's mtime keeps, so that the
 * replicas of a tombstone are reclaimed together (replicator_reclaimable). */
#define OBJFILE_WRITTEN_HEADER "X-Nubo-Tombstone-Written"
/* A proxy's PUT to an object server: the body is chunked and its MD5, hashed once by the
 * proxy for all replicas, comes after it in this trailer (announced by "Trailer:" with
 * its name), so that the object server does not hash the bytes again and commits
 * nothing before the whole body and its MD5 arrived; the length the body must have
 * comes in the length header. */
#define OBJFILE_ETAG_TRAILER "X-Backend-Etag"
#define OBJFILE_LENGTH_HEADER "X-Backend-Obj-Content-Length"
/* An object server's 400 to a PUT that the client caused (its metadata does not fit the
 * .data header) carries this header, and the proxy answers the client 400. Any other 400
 * (a missing or malformed trailer, a bad length, path or X-Timestamp) is a fault of the
 * proxy-to-object-server protocol, which the proxy answers 503 and logs. */
#define OBJFILE_CLIENT_FAULT_HEADER "X-Backend-Client-Fault"
/* Pure: the time h (that header's value, or NULL) names, when it is a decimal number of
 * seconds in (0, now]; else 0 (absent, malformed or in the future: the copy keeps the
 * time it is written). */
time_t objfile_written_at(const char *h, time_t now);

#endif
