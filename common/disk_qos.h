/* Disk I/O limits (QoS) of one disk: read from the specs that name them (Nova's flavor
 * extra specs "quota:disk_total_bytes_sec", ..., and Cinder's front-end QoS spec keys
 * "total_bytes_sec", ...), checked by the rules QEMU's block throttling applies, and
 * named as a QEMU throttle-group's "limits" name them. One table of the keys serves
 * the API (refusing bad values where they are set), the scheduler (putting them in a
 * task), the bus schema and the compute agent (QEMU's argv and QMP). Pure. */
#ifndef NUBO_DISK_QOS_H
#define NUBO_DISK_QOS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The limits, in the order of the table in disk_qos.c. *_MAX are burst rates (QEMU's
 * bps-total-max, ...: allowed for one second above the average); IOPS_SIZE counts
 * a request of that many bytes as one I/O per multiple (QEMU's iops-size). */
enum disk_qos_limit {
	DISK_QOS_BPS_TOTAL,
	DISK_QOS_BPS_READ,
	DISK_QOS_BPS_WRITE,
	DISK_QOS_IOPS_TOTAL,
	DISK_QOS_IOPS_READ,
	DISK_QOS_IOPS_WRITE,
	DISK_QOS_BPS_TOTAL_MAX,
	DISK_QOS_BPS_READ_MAX,
	DISK_QOS_BPS_WRITE_MAX,
	DISK_QOS_IOPS_TOTAL_MAX,
	DISK_QOS_IOPS_READ_MAX,
	DISK_QOS_IOPS_WRITE_MAX,
	DISK_QOS_IOPS_SIZE,
	DISK_QOS_COUNT
};

/* The bound of every value: QEMU's (THROTTLE_VALUE_MAX, 10^15). */
#define DISK_QOS_VALUE_MAX 1000000000000000LL

/* A disk's limits; 0 = no limit of that kind. All zero: the disk is not throttled. */
struct disk_qos {
	int64_t v[DISK_QOS_COUNT];
};

/* Who names the limits: Nova's flavor extra specs ("quota:disk_" + Cinder's key) or
 * Cinder's QoS specs (the bus uses Cinder's keys too). */
enum disk_qos_dialect {
	DISK_QOS_NOVA,
	DISK_QOS_CINDER,
};

/* The key of limit l in dialect d ("quota:disk_total_bytes_sec", "total_bytes_sec"),
 * or NULL when l is out of range. A constant. */
const char *disk_qos_key(enum disk_qos_dialect d, enum disk_qos_limit l);
/* QEMU's name of l in a throttle-group's limits ("bps-total"), or NULL. A constant. */
const char *disk_qos_qemu_name(enum disk_qos_limit l);
/* The limit dialect d names key, or -1 when key is not one of them. */
int disk_qos_find(enum disk_qos_dialect d, const char *key);

/* Parses one value: decimal digits only (no sign, no space, at most 16 digits), 0 to
 * DISK_QOS_VALUE_MAX. 0 with *out set, or -EINVAL. */
int disk_qos_value_parse(const char *s, int64_t *out);

/* Reads the limits of dialect d out of specs (a JSON object of string values, as the
 * API stores extra specs and QoS specs; JSON integers are taken too). Keys that are
 * not limits of d are ignored (a flavor's other extra specs, a QoS spec's back-end
 * keys). 0 with out filled, or -EINVAL with err naming the key and why (a value that
 * is not a whole number in range, or a combination disk_qos_check refuses). */
int disk_qos_from_specs(const json_t *specs, enum disk_qos_dialect d, struct disk_qos *out,
                        char *err, size_t errlen);
/* QEMU's rules (util/throttle.c throttle_is_valid): every value 0..DISK_QOS_VALUE_MAX;
 * a total limit and a read or write limit of the same kind (bytes, IOPS, or their
 * bursts) are not set together; a burst needs its average and is not below it; an
 * IOPS size needs an IOPS limit. 0, or -EINVAL with err naming the keys in dialect d. */
int disk_qos_check(const struct disk_qos *q, enum disk_qos_dialect d, char *err, size_t errlen);
/* 1 when q limits anything, else 0. */
int disk_qos_any(const struct disk_qos *q);
/* QEMU's throttle-group "limits" object of q (owned): {"bps-total": N, ...} with the
 * limits set, in table order. */
json_t *disk_qos_qemu_limits(const struct disk_qos *q);

#endif
