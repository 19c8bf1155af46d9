/* The instance state machine as the API sees it: which vm_states each action may
 * start from, the outbox task it queues, the task_state shown meanwhile, and Nova's 409
 * text when it does not fit. Pure; tested in tests/unit/test_server_state.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "msg.h"
#include "compute/server.h"

unsigned server_vm_state_bit(const char *vm_state)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"active", VMS_ACTIVE},   {"building", VMS_BUILDING},   {"stopped", VMS_STOPPED},
	    {"paused", VMS_PAUSED},   {"suspended", VMS_SUSPENDED}, {"error", VMS_ERROR},
	    {"deleted", VMS_DELETED},
	};
	for (size_t i = 0; vm_state && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].name, vm_state))
			return names[i].bit;
	return 0;
}

/* The action table. Soft reboot, pause and suspend need a running guest; a hard
 * reboot recovers from anything that is placed (Nova's ALLOW_HARD_REBOOT). */
#define FROM_ANY_RUNNING (VMS_ACTIVE | VMS_STOPPED | VMS_PAUSED | VMS_SUSPENDED | VMS_ERROR)

static const struct server_action actions[] = {
    {"os-start", NULL, "start", TASK_START, VMS_STOPPED, "powering-on"},
    {"os-stop", NULL, "stop", TASK_STOP, VMS_ACTIVE | VMS_PAUSED | VMS_SUSPENDED | VMS_ERROR,
     "powering-off"},
    {"reboot", "SOFT", "reboot", TASK_REBOOT, VMS_ACTIVE, "rebooting"},
    {"reboot", "HARD", "reboot", TASK_HARD_REBOOT, FROM_ANY_RUNNING, "rebooting_hard"},
    {"pause", NULL, "pause", TASK_PAUSE, VMS_ACTIVE, "pausing"},
    {"unpause", NULL, "unpause", TASK_UNPAUSE, VMS_PAUSED, "unpausing"},
    {"suspend", NULL, "suspend", TASK_SUSPEND, VMS_ACTIVE, "suspending"},
    {"resume", NULL, "resume", TASK_RESUME, VMS_SUSPENDED, "resuming"},
};

const struct server_action *server_action_find(const char *key, const char *variant)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		const struct server_action *a = &actions[i];
		if (strcmp(a->key, key))
			continue;
		if (!a->variant || (variant && !strcasecmp(a->variant, variant)))
			return a;
	}
	return NULL;
}

int server_action_check(const struct server_action *a, const char *id, const char *vm_state,
                        const char *task_state, int open_task, char *msg, size_t msglen)
{
	if (task_state || open_task) {
		snprintf(msg, msglen, "Cannot '%s' instance %s while it is in task_state %s",
		         a->verb, id, task_state ? task_state : "queued");
		return -EBUSY;
	}
	if (!(server_vm_state_bit(vm_state) & a->from)) {
		snprintf(msg, msglen, "Cannot '%s' instance %s while it is in vm_state %s", a->verb,
		         id, vm_state ? vm_state : "unknown");
		return -EBUSY;
	}
	if (msglen)
		msg[0] = '\0';
	return 0;
}

int server_flavor_fits(long disk_gb, long ram_mb, const struct image_needs *im, char *msg, size_t n)
{
	if (im->min_ram_mb > ram_mb) {
		snprintf(msg, n, "Flavor's memory is too small for requested image.");
		return -EINVAL;
	}
	if (disk_gb <= 0)
		return 0;
	long long dest = (long long)disk_gb << 30;
	long long image = im->size > im->virtual_size ? im->size : im->virtual_size;
	if (image > dest) {
		snprintf(msg, n,
		         "Flavor's disk is too small for requested image. Flavor disk is %lld "
		         "bytes, image is %lld bytes.",
		         dest, image);
		return -EINVAL;
	}
	if (((long long)im->min_disk_gb << 30) > dest) {
		snprintf(msg, n,
		         "Flavor's disk is smaller than the minimum size specified in image "
		         "metadata. Flavor disk is %lld bytes, minimum size is %lld bytes.",
		         dest, (long long)im->min_disk_gb << 30);
		return -EINVAL;
	}
	return 0;
}

int server_access_ip(int family, const char *in, char out[SERVER_IP_MAX])
{
	unsigned char bin[16];
	if (!in || inet_pton(family, in, bin) != 1 || !inet_ntop(family, bin, out, SERVER_IP_MAX))
		return -EINVAL;
	return 0;
}

int server_since_check(const json_t *obj, const struct server_since *gates, size_t n, int mv,
                       const char *what, char *msg, size_t msglen)
{
	for (size_t i = 0; i < n; i++) {
		if (!json_object_get(obj, gates[i].key))
			continue;
		/* a key may have several rows (Nova took some away and gave them back) */
		int allowed = 0;
		for (size_t k = 0; k < n; k++)
			if (!strcmp(gates[k].key, gates[i].key) && mv >= gates[k].since &&
			    (gates[k].until <= 0 || mv < gates[k].until))
				allowed = 1;
		if (allowed)
			continue;
		snprintf(msg, msglen,
		         "Invalid input for field/attribute %s. Additional properties are not "
		         "allowed ('%s' was unexpected)",
		         what, gates[i].key);
		return -EINVAL;
	}
	return 0;
}

int server_bool_param(const char *v)
{
	static const char *const yes[] = {"", "1", "t", "true", "on", "y", "yes"};
	static const char *const no[] = {"0", "f", "false", "off", "n", "no"};
	if (!v)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(v, yes[i]))
			return 1;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcasecmp(v, no[i]))
			return 0;
	return -EINVAL;
}

int server_status_known(const char *status)
{
	static const char *const statuses[] = {
	    "ACTIVE",    "BUILD",        "DELETED",       "ERROR",   "HARD_REBOOT",
	    "MIGRATING", "PASSWORD",     "PAUSED",        "REBOOT",  "REBUILD",
	    "RESCUE",    "RESIZE",       "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED",
	    "SHUTOFF",   "SOFT_DELETED", "SUSPENDED",     "UNKNOWN", "VERIFY_RESIZE"};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (!strcasecmp(status, statuses[i]))
			return 1;
	return 0;
}

/* Nova's map from (stored status, task_state) to the status a user sees while the
 * task runs (nova/api/openstack/common.py): `openstack server reboot --wait` waits for
 * ACTIVE, so a reboot must not look ACTIVE before it has ended. */
static const struct {
	const char *status, *task_state, *shown;
} shown_states[] = {
    {"ACTIVE", "rebooting", "REBOOT"},
    {"ACTIVE", "rebooting_hard", "HARD_REBOOT"},
};

const char *server_status_shown(const char *status, const char *task_state)
{
	if (!status || !task_state)
		return status;
	for (size_t i = 0; i < sizeof(shown_states) / sizeof(shown_states[0]); i++)
		if (!strcmp(status, shown_states[i].status) &&
		    !strcmp(task_state, shown_states[i].task_state))
			return shown_states[i].shown;
	return status;
}

const char *server_status_task(const char *shown, const char **status)
{
	for (size_t i = 0; shown && i < sizeof(shown_states) / sizeof(shown_states[0]); i++)
		if (!strcasecmp(shown, shown_states[i].shown)) {
			*status = shown_states[i].status;
			return shown_states[i].task_state;
		}
	return NULL;
}

size_t server_status_masking(const char *stored, char *buf, size_t len)
{
	size_t n = 0, at = 0;
	buf[0] = '\0';
	for (size_t i = 0; stored && i < sizeof(shown_states) / sizeof(shown_states[0]); i++) {
		if (strcasecmp(stored, shown_states[i].status))
			continue;
		int k =
		    snprintf(buf + at, len - at, "%s%s", n ? "," : "", shown_states[i].task_state);
		if (k < 0 || (size_t)k >= len - at) {
			buf[at] = '\0';
			break;
		}
		at += (size_t)k;
		n++;
	}
	return n;
}

int server_tag_valid(const char *tag)
{
	size_t chars = 0;
	if (!tag || !*tag || strpbrk(tag, "/,"))
		return 0;
	for (const char *p = tag; *p; p++)
		if (((unsigned char)*p & 0xC0) != 0x80)
			chars++;
	return chars <= SERVER_TAG_MAX;
}
