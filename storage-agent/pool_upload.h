/* A volume's bytes as a new image (Cinder's os-volume_upload_image): the pool file is
 * converted into tmp/ in the image's disk format and PUT to the Image API's file URL
 * of the queued image with the agent key. */
#ifndef NUBO_STORAGE_POOL_UPLOAD_H
#define NUBO_STORAGE_POOL_UPLOAD_H
#include <stddef.h>

#include "msg.h"
#include "pool.h"

#define POOL_UPLOAD_ARGC 10 /* entries of the qemu-img argv, NULL included */

/* Pure: `qemu-img convert -q -f <src_fmt> -O <fmt> <src> <dst>` into argv (NULL
 * terminated), src_fmt the pool's ("qcow2" or "raw"), fmt "qcow2" (also for "") or
 * "raw". 0, or -EINVAL for another format or a path that is not absolute (argv then
 * empty). */
int pool_upload_argv(const char *src, const char *src_fmt, const char *fmt, const char *dst,
                     const char *argv[POOL_UPLOAD_ARGC]);

/* Uploads volume id per u. Nothing is left in tmp/. 0 or a negative errno with err. */
int pool_volume_upload(const struct pool *p, const char *id, const struct msg_snapshot *u,
                       char *err, size_t errlen);

#endif
