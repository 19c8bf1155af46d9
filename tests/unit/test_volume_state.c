/* Block Storage's pure rules: the volume state machine (which status allows which
 * operation, and Cinder's 400 messages), the quota arithmetic with Cinder's 413
 * messages, and the OpenStack-API-Version header. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/volume/volume_state.h"
#include "api-server/volume/volume_version.h"

static int allows(const char *status, int attached, int snaps, int force, enum volume_op op)
{
	char msg[512];
	return volume_state_allows(status, attached, snaps, force, op, msg, sizeof(msg));
}

static void test_delete(void **state)
{
	static const char *const ok[] = {"available", "error", "error_restoring",
	                                 "error_extending"};
	static const char *const refused[] = {"creating",  "in-use",   "attaching",  "detaching",
	                                      "extending", "deleting", "maintenance"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(allows(ok[i], 0, 0, 0, VOP_DELETE), 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(allows(refused[i], 0, 0, 0, VOP_DELETE), -EINVAL);
	/* attached or with snapshots: never, whatever the status says */
	assert_int_equal(allows("available", 1, 0, 0, VOP_DELETE), -EINVAL);
	char msg[512];
	assert_int_equal(volume_state_allows("available", 0, 2, 0, VOP_DELETE, msg, sizeof(msg)),
	                 -EINVAL);
	assert_non_null(strstr(msg, "2 dependent snapshots"));
	assert_int_equal(volume_state_allows("in-use", 1, 0, 0, VOP_DELETE, msg, sizeof(msg)),
	                 -EINVAL);
	assert_non_null(strstr(msg, "Invalid volume: Volume status must be available"));
}

static void test_extend(void **state)
{
	char msg[512];
	assert_int_equal(allows("available", 0, 3, 0, VOP_EXTEND), 0);
	assert_int_equal(volume_state_allows("in-use", 1, 0, 0, VOP_EXTEND, msg, sizeof(msg)),
	                 -EINVAL);
	assert_string_equal(msg, "Invalid volume: Volume status must be 'available' to extend, "
	                         "currently in-use.");
	assert_int_equal(allows("extending", 0, 0, 0, VOP_EXTEND), -EINVAL);
	assert_int_equal(allows("error", 0, 0, 0, VOP_EXTEND), -EINVAL);
}

static void test_snapshot_and_clone(void **state)
{
	assert_int_equal(allows("available", 0, 0, 0, VOP_SNAPSHOT), 0);
	assert_int_equal(allows("in-use", 1, 0, 0, VOP_SNAPSHOT), -EINVAL);
	assert_int_equal(allows("in-use", 1, 0, 1, VOP_SNAPSHOT), 0); /* force */
	assert_int_equal(allows("creating", 0, 0, 1, VOP_SNAPSHOT), -EINVAL);
	assert_int_equal(allows("available", 0, 0, 0, VOP_CLONE), 0);
	assert_int_equal(allows("in-use", 1, 0, 0, VOP_CLONE), 0);
	assert_int_equal(allows("error", 0, 0, 0, VOP_CLONE), -EINVAL);
}

static void test_attach_detach(void **state)
{
	/* available ↔ attaching → in-use ↔ detaching: only from the resting states */
	assert_int_equal(allows("available", 0, 0, 0, VOP_ATTACH), 0);
	assert_int_equal(allows("in-use", 1, 0, 0, VOP_ATTACH), -EINVAL); /* no attach twice */
	assert_int_equal(allows("attaching", 0, 0, 0, VOP_ATTACH), -EINVAL);
	assert_int_equal(allows("in-use", 1, 0, 0, VOP_DETACH), 0);
	assert_int_equal(allows("available", 0, 0, 0, VOP_DETACH), -EINVAL);
	assert_int_equal(allows("detaching", 1, 0, 0, VOP_DETACH), -EINVAL);
	assert_int_equal(allows("available", 0, 0, 0, VOP_COUNT), -EINVAL);
	assert_int_equal(allows(NULL, 0, 0, 0, VOP_DELETE), -EINVAL);
}

static void test_states(void **state)
{
	assert_true(volume_state_valid("available"));
	assert_true(volume_state_valid("in-use"));
	assert_true(volume_state_valid("error_deleting"));
	assert_false(volume_state_valid("bogus"));
	assert_false(volume_state_valid(NULL));
	assert_true(snapshot_state_deletable("available"));
	assert_true(snapshot_state_deletable("error"));
	assert_false(snapshot_state_deletable("creating"));
	assert_false(snapshot_state_deletable("deleting"));
}

static void test_quota(void **state)
{
	struct vquota_scope all = {.used = {{0, 0, 0}}};
	char msg[512];
	vquota_defaults(&all.limit);
	assert_int_equal(all.limit.v[VQ_VOLUMES], 10);
	assert_int_equal(all.limit.v[VQ_GIGABYTES], 1000);
	assert_int_equal(all.limit.v[VQ_SNAPSHOTS], 10);
	all.want = (struct vquota_set){{1, 1000, 0}};
	assert_int_equal(vquota_check(&all, NULL, NULL, msg, sizeof(msg)), 0); /* exactly full */
	all.want = (struct vquota_set){{1, 1001, 0}};
	assert_int_equal(vquota_check(&all, NULL, NULL, msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg, "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
	                         "exceeds allowed gigabytes quota. Requested 1001G, quota is "
	                         "1000G and 0G has been consumed.");
	all.used = (struct vquota_set){{10, 10, 0}};
	all.want = (struct vquota_set){{1, 1, 0}};
	assert_int_equal(vquota_check(&all, NULL, NULL, msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg, "VolumeLimitExceeded: Maximum number of volumes allowed (10) "
	                         "exceeded for quota 'volumes'.");
	all.used = (struct vquota_set){{1, 1, 10}};
	all.want = (struct vquota_set){{0, 1, 1}};
	assert_int_equal(vquota_check(&all, NULL, NULL, msg, sizeof(msg)), -EDQUOT);
	/* Cinder's SnapshotLimitExceeded names no quota and ends with no full stop */
	assert_string_equal(msg, "SnapshotLimitExceeded: Maximum number of snapshots allowed (10) "
	                         "exceeded");
	/* unlimited, and nothing asked of a resource over its limit */
	all.limit.v[VQ_SNAPSHOTS] = -1;
	assert_int_equal(vquota_check(&all, NULL, NULL, msg, sizeof(msg)), 0);
	all.used = (struct vquota_set){{20, 1, 0}};
	all.want = (struct vquota_set){{0, 1, 0}}; /* an extend: no new volume */
	assert_int_equal(vquota_check(&all, NULL, NULL, msg, sizeof(msg)), 0);
	assert_string_equal(vquota_name(VQ_GIGABYTES), "gigabytes");
}

/* Cinder's VolumeTypeResource names and their parsing back */
static void test_quota_type_names(void **state)
{
	char name[VQUOTA_NAME_MAX], longtype[300];
	const char *type;
	assert_int_equal(vquota_resource(VQ_VOLUMES, NULL, name, sizeof(name)), 0);
	assert_string_equal(name, "volumes");
	assert_int_equal(vquota_resource(VQ_GIGABYTES, "lvm", name, sizeof(name)), 0);
	assert_string_equal(name, "gigabytes_lvm");
	assert_int_equal(vquota_resource(VQ_SNAPSHOTS, "my_type", name, sizeof(name)), 0);
	assert_string_equal(name, "snapshots_my_type");
	/* a 255-byte type name fits; a longer one is refused, never cut */
	memset(longtype, 'x', 255);
	longtype[255] = '\0';
	assert_int_equal(vquota_resource(VQ_SNAPSHOTS, longtype, name, sizeof(name)), 0);
	assert_int_equal(strlen(name), strlen("snapshots_") + 255);
	assert_int_equal(vquota_resource(VQ_VOLUMES, "lvm", name, 8), -ENAMETOOLONG);
	assert_string_equal(name, "");
	assert_int_equal(vquota_resource(VQ_COUNT, NULL, name, sizeof(name)), -ENAMETOOLONG);

	assert_int_equal(vquota_parse("volumes", &type), VQ_VOLUMES);
	assert_null(type);
	assert_int_equal(vquota_parse("gigabytes_lvm", &type), VQ_GIGABYTES);
	assert_string_equal(type, "lvm");
	assert_int_equal(vquota_parse("snapshots_my_type", &type), VQ_SNAPSHOTS);
	assert_string_equal(type, "my_type");
	assert_int_equal(vquota_parse("volumes_", &type), -1);
	assert_int_equal(vquota_parse("volumesx", &type), -1);
	assert_int_equal(vquota_parse("backup_gigabytes", &type), -1);
	assert_int_equal(vquota_parse("per_volume_gigabytes", &type), -1);
	assert_int_equal(vquota_parse("backups", &type), -1);
	assert_int_equal(vquota_parse(NULL, &type), -1);
}

/* A volume type's quotas beside the global ones: Cinder's message names the one over,
 * the first in name order. */
static void test_quota_typed(void **state)
{
	struct vquota_scope all = {.used = {{1, 10, 0}}, .want = {{1, 5, 0}}};
	struct vquota_scope typed = {
	    .limit = {{-1, -1, -1}}, .used = {{1, 10, 0}}, .want = {{1, 5, 0}}};
	char msg[512];
	vquota_defaults(&all.limit);
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), 0);
	typed.limit.v[VQ_VOLUMES] = 1; /* volumes_lvm full */
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg, "VolumeLimitExceeded: Maximum number of volumes allowed (1) "
	                         "exceeded for quota 'volumes_lvm'.");
	typed.limit.v[VQ_VOLUMES] = 2;
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), 0); /* exactly */
	typed.limit.v[VQ_GIGABYTES] = 12;
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg, "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
	                         "exceeds allowed gigabytes_lvm quota. Requested 5G, quota is "
	                         "12G and 10G has been consumed.");
	/* both over: gigabytes_lvm sorts before volumes_lvm, and global gigabytes first */
	typed.limit.v[VQ_VOLUMES] = 1;
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), -EDQUOT);
	assert_non_null(strstr(msg, "allowed gigabytes_lvm quota"));
	all.limit.v[VQ_GIGABYTES] = 14;
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), -EDQUOT);
	assert_non_null(strstr(msg, "allowed gigabytes quota. Requested 5G, quota is 14G"));
	/* a snapshot: snapshots_<type>, and Cinder's message for it */
	all = (struct vquota_scope){.used = {{1, 1, 0}}, .want = {{0, 1, 1}}};
	vquota_defaults(&all.limit);
	typed =
	    (struct vquota_scope){.limit = {{-1, -1, 0}}, .used = {{1, 1, 0}}, .want = {{0, 1, 1}}};
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg, "SnapshotLimitExceeded: Maximum number of snapshots allowed (0) "
	                         "exceeded");
	/* a retype moves only the type's usage: the global quotas, over, are not asked */
	all = (struct vquota_scope){.limit = {{1, 1, 1}}, .used = {{5, 50, 5}}};
	typed = (struct vquota_scope){
	    .limit = {{3, 30, 3}}, .used = {{2, 20, 2}}, .want = {{1, 10, 1}}};
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), 0);
	typed.want.v[VQ_GIGABYTES] = 11;
	assert_int_equal(vquota_check(&all, &typed, "lvm", msg, sizeof(msg)), -EDQUOT);
	assert_non_null(strstr(msg, "gigabytes_lvm quota. Requested 11G, quota is 30G and 20G"));
	/* no type name: the typed scope is not checked */
	assert_int_equal(vquota_check(&all, &typed, NULL, msg, sizeof(msg)), 0);
}

static void test_version_header(void **state)
{
	int minor = -1;
	char msg[256];
	assert_int_equal(volume_version_parse(NULL, &minor, msg, sizeof(msg)), 0);
	assert_int_equal(minor, 0);
	assert_int_equal(volume_version_parse("volume 3.0", &minor, msg, sizeof(msg)), 0);
	assert_int_equal(volume_version_parse("Volume latest", &minor, msg, sizeof(msg)), 0);
	assert_int_equal(minor, VOLUME_VERSION_MAX);
	assert_int_equal(volume_version_parse("compute 2.90", &minor, msg, sizeof(msg)), 0);
	assert_int_equal(volume_version_parse("volume 3.1", &minor, msg, sizeof(msg)), -ERANGE);
	assert_non_null(strstr(msg, "maximum is 3.0"));
	assert_int_equal(volume_version_parse("volume 2.0", &minor, msg, sizeof(msg)), -ERANGE);
	assert_int_equal(volume_version_parse("volume 3", &minor, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(volume_version_parse("volume 3.x", &minor, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(volume_version_parse("volume 3.0 junk", &minor, msg, sizeof(msg)),
	                 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delete),
	    cmocka_unit_test(test_extend),
	    cmocka_unit_test(test_snapshot_and_clone),
	    cmocka_unit_test(test_attach_detach),
	    cmocka_unit_test(test_states),
	    cmocka_unit_test(test_quota),
	    cmocka_unit_test(test_quota_type_names),
	    cmocka_unit_test(test_quota_typed),
	    cmocka_unit_test(test_version_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
