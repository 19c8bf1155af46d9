/* Disk I/O limits: one table of the keys (Cinder's name, QEMU's name; Nova's is
 * "quota:disk_" + Cinder's), their parsing and QEMU's consistency rules. */
#include "disk_qos.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NOVA_PREFIX "quota:disk_"

/* ROW(k, q): Cinder's key k, Nova's NOVA_PREFIX k, QEMU's name q */
#define ROW(k, q)                                                                                  \
	{                                                                                          \
		k, NOVA_PREFIX k, q                                                                \
	}
static const struct qos_row {
	const char *cinder; /* Cinder's front-end QoS key, also the bus's */
	const char *nova;   /* Nova's flavor extra spec */
	const char *qemu;   /* a throttle-group's limits member */
} rows[DISK_QOS_COUNT] = {
    [DISK_QOS_BPS_TOTAL] = ROW("total_bytes_sec", "bps-total"),
    [DISK_QOS_BPS_READ] = ROW("read_bytes_sec", "bps-read"),
    [DISK_QOS_BPS_WRITE] = ROW("write_bytes_sec", "bps-write"),
    [DISK_QOS_IOPS_TOTAL] = ROW("total_iops_sec", "iops-total"),
    [DISK_QOS_IOPS_READ] = ROW("read_iops_sec", "iops-read"),
    [DISK_QOS_IOPS_WRITE] = ROW("write_iops_sec", "iops-write"),
    [DISK_QOS_BPS_TOTAL_MAX] = ROW("total_bytes_sec_max", "bps-total-max"),
    [DISK_QOS_BPS_READ_MAX] = ROW("read_bytes_sec_max", "bps-read-max"),
    [DISK_QOS_BPS_WRITE_MAX] = ROW("write_bytes_sec_max", "bps-write-max"),
    [DISK_QOS_IOPS_TOTAL_MAX] = ROW("total_iops_sec_max", "iops-total-max"),
    [DISK_QOS_IOPS_READ_MAX] = ROW("read_iops_sec_max", "iops-read-max"),
    [DISK_QOS_IOPS_WRITE_MAX] = ROW("write_iops_sec_max", "iops-write-max"),
    [DISK_QOS_IOPS_SIZE] = ROW("size_iops_sec", "iops-size"),
};

/* The (total, read, write) triples QEMU keeps apart: averages and bursts of bytes
 * and of I/Os. */
static const enum disk_qos_limit triples[][3] = {
    {DISK_QOS_BPS_TOTAL, DISK_QOS_BPS_READ, DISK_QOS_BPS_WRITE},
    {DISK_QOS_IOPS_TOTAL, DISK_QOS_IOPS_READ, DISK_QOS_IOPS_WRITE},
    {DISK_QOS_BPS_TOTAL_MAX, DISK_QOS_BPS_READ_MAX, DISK_QOS_BPS_WRITE_MAX},
    {DISK_QOS_IOPS_TOTAL_MAX, DISK_QOS_IOPS_READ_MAX, DISK_QOS_IOPS_WRITE_MAX},
};

/* Each burst and the average it rises above. */
static const enum disk_qos_limit bursts[][2] = {
    {DISK_QOS_BPS_TOTAL_MAX, DISK_QOS_BPS_TOTAL}, {DISK_QOS_BPS_READ_MAX, DISK_QOS_BPS_READ},
    {DISK_QOS_BPS_WRITE_MAX, DISK_QOS_BPS_WRITE}, {DISK_QOS_IOPS_TOTAL_MAX, DISK_QOS_IOPS_TOTAL},
    {DISK_QOS_IOPS_READ_MAX, DISK_QOS_IOPS_READ}, {DISK_QOS_IOPS_WRITE_MAX, DISK_QOS_IOPS_WRITE},
};

const char *disk_qos_key(enum disk_qos_dialect d, enum disk_qos_limit l)
{
	if ((unsigned)l >= DISK_QOS_COUNT)
		return NULL;
	return d == DISK_QOS_NOVA ? rows[l].nova : rows[l].cinder;
}

const char *disk_qos_qemu_name(enum disk_qos_limit l)
{
	return (unsigned)l < DISK_QOS_COUNT ? rows[l].qemu : NULL;
}

int disk_qos_find(enum disk_qos_dialect d, const char *key)
{
	for (int l = 0; key && l < DISK_QOS_COUNT; l++)
		if (!strcmp(key, disk_qos_key(d, (enum disk_qos_limit)l)))
			return l;
	return -1;
}

int disk_qos_value_parse(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 16)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0'); /* 16 digits fit in int64_t */
	}
	if (v > DISK_QOS_VALUE_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

int disk_qos_check(const struct disk_qos *q, enum disk_qos_dialect d, char *err, size_t errlen)
{
	for (int l = 0; l < DISK_QOS_COUNT; l++)
		if (q->v[l] < 0 || q->v[l] > DISK_QOS_VALUE_MAX) {
			snprintf(err, errlen, "%s must be a whole number from 0 to %lld",
			         disk_qos_key(d, (enum disk_qos_limit)l), DISK_QOS_VALUE_MAX);
			return -EINVAL;
		}
	for (size_t i = 0; i < sizeof(triples) / sizeof(triples[0]); i++) {
		const enum disk_qos_limit *t = triples[i];
		if (q->v[t[0]] && (q->v[t[1]] || q->v[t[2]])) {
			snprintf(err, errlen,
			         "%s cannot be set together with %s or %s (a total limit, or "
			         "separate read and write limits)",
			         disk_qos_key(d, t[0]), disk_qos_key(d, t[1]),
			         disk_qos_key(d, t[2]));
			return -EINVAL;
		}
	}
	if (q->v[DISK_QOS_IOPS_SIZE] && !q->v[DISK_QOS_IOPS_TOTAL] && !q->v[DISK_QOS_IOPS_READ] &&
	    !q->v[DISK_QOS_IOPS_WRITE]) {
		snprintf(err, errlen, "%s needs an I/O operations limit (%s, %s or %s)",
		         disk_qos_key(d, DISK_QOS_IOPS_SIZE), disk_qos_key(d, DISK_QOS_IOPS_TOTAL),
		         disk_qos_key(d, DISK_QOS_IOPS_READ), disk_qos_key(d, DISK_QOS_IOPS_WRITE));
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(bursts) / sizeof(bursts[0]); i++) {
		int64_t max = q->v[bursts[i][0]], avg = q->v[bursts[i][1]];
		if (max && !avg) {
			snprintf(err, errlen, "%s needs %s", disk_qos_key(d, bursts[i][0]),
			         disk_qos_key(d, bursts[i][1]));
			return -EINVAL;
		}
		if (max && max < avg) {
			snprintf(err, errlen, "%s cannot be lower than %s",
			         disk_qos_key(d, bursts[i][0]), disk_qos_key(d, bursts[i][1]));
			return -EINVAL;
		}
	}
	return 0;
}

int disk_qos_from_specs(const json_t *specs, enum disk_qos_dialect d, struct disk_qos *out,
                        char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(specs)) {
		snprintf(err, errlen, "the specs are not an object");
		return -EINVAL;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)specs, key, v)
	{
		int l = disk_qos_find(d, key);
		if (l < 0)
			continue;
		char num[32];
		const char *text = json_string_value(v);
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			text = num;
		}
		if (!text || disk_qos_value_parse(text, &out->v[l]) < 0) {
			snprintf(err, errlen, "%s: '%.32s' is not a whole number from 0 to %lld",
			         key, text ? text : "(not a string)", DISK_QOS_VALUE_MAX);
			memset(out, 0, sizeof(*out));
			return -EINVAL;
		}
	}
	if (disk_qos_check(out, d, err, errlen) < 0) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return 0;
}

int disk_qos_any(const struct disk_qos *q)
{
	for (int l = 0; l < DISK_QOS_COUNT; l++)
		if (q->v[l])
			return 1;
	return 0;
}

json_t *disk_qos_qemu_limits(const struct disk_qos *q)
{
	json_t *o = json_object();
	for (int l = 0; l < DISK_QOS_COUNT; l++)
		if (q->v[l])
			json_object_set_new(o, rows[l].qemu, json_integer((json_int_t)q->v[l]));
	return o;
}
