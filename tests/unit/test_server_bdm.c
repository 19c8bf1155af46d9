/* The block device mapping parser of server create (boot from volume): what Nubo
 * boots, and Nova's 400 texts for what it refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/server_bdm.h"

#define VOL "6F1C2B3A-4D5E-4F60-8A7B-9C0D1E2F3A4B"
#define VOL_LOWER "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"

/* Parses the JSON texts (NULL: member absent); returns the parser's code. */
static int parse(const char *legacy, const char *v2, struct server_bdm *b, char *err)
{
	json_t *l = legacy ? json_loads(legacy, 0, NULL) : NULL;
	json_t *v = v2 ? json_loads(v2, 0, NULL) : NULL;
	assert_true(!legacy || l);
	assert_true(!v2 || v);
	err[0] = 0;
	int rc = server_bdm_parse(l, v, b, err, 512);
	json_decref(l);
	json_decref(v);
	return rc;
}

static void none_without_mappings(void **state)
{
	struct server_bdm b;
	char err[512];
	assert_int_equal(parse(NULL, NULL, &b, err), 0);
	assert_int_equal(b.source, SERVER_BDM_NONE);
	assert_int_equal(parse("[]", "[]", &b, err), 0);
	assert_int_equal(b.source, SERVER_BDM_NONE);
}

/* tempest's volume_backed server and `openstack server create --volume` */
static void v2_volume(void **state)
{
	struct server_bdm b;
	char err[512];
	assert_int_equal(parse(NULL,
	                       "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\","
	                       "\"destination_type\":\"volume\",\"boot_index\":0,"
	                       "\"delete_on_termination\":true}]",
	                       &b, err),
	                 0);
	assert_int_equal(b.source, SERVER_BDM_VOLUME);
	assert_string_equal(b.uuid, VOL_LOWER);
	assert_int_equal(b.delete_on_termination, 1);
	/* the CLI sends boot_index as a string and no delete_on_termination */
	assert_int_equal(parse(NULL,
	                       "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\","
	                       "\"destination_type\":\"volume\",\"boot_index\":\"0\"}]",
	                       &b, err),
	                 0);
	assert_int_equal(b.source, SERVER_BDM_VOLUME);
	assert_int_equal(b.delete_on_termination, 0);
}

/* `openstack server create --image X --boot-from-volume 2` */
static void v2_image_to_volume(void **state)
{
	struct server_bdm b;
	char err[512];
	assert_int_equal(parse(NULL,
	                       "[{\"uuid\":\"" VOL "\",\"source_type\":\"image\","
	                       "\"destination_type\":\"volume\",\"boot_index\":\"0\","
	                       "\"volume_size\":\"2\",\"delete_on_termination\":\"True\"}]",
	                       &b, err),
	                 0);
	assert_int_equal(b.source, SERVER_BDM_IMAGE);
	assert_int_equal(b.volume_size, 2);
	assert_int_equal(b.delete_on_termination, 1);
	assert_int_equal(parse(NULL,
	                       "[{\"uuid\":\"" VOL "\",\"source_type\":\"image\","
	                       "\"destination_type\":\"volume\",\"boot_index\":0}]",
	                       &b, err),
	                 -EINVAL);
	assert_non_null(strstr(err, "need to have a non-zero size specified"));
	assert_int_equal(b.source, SERVER_BDM_NONE);
}

static void legacy_root_volume(void **state)
{
	struct server_bdm b;
	char err[512];
	assert_int_equal(parse("[{\"volume_id\":\"" VOL "\",\"device_name\":\"vda\","
	                       "\"delete_on_termination\":false}]",
	                       NULL, &b, err),
	                 0);
	assert_int_equal(b.source, SERVER_BDM_VOLUME);
	assert_string_equal(b.uuid, VOL_LOWER);
	assert_int_equal(
	    parse("[{\"volume_id\":\"" VOL "\",\"device_name\":\"/dev/vda\"}]", NULL, &b, err), 0);
	/* a data disk at boot is not what Nubo does */
	assert_int_equal(
	    parse("[{\"volume_id\":\"" VOL "\",\"device_name\":\"vdb\"}]", NULL, &b, err), -EINVAL);
	assert_non_null(strstr(err, "Block Device Mapping is Invalid"));
}

static void refusals(void **state)
{
	struct server_bdm b;
	char err[512];
	static const struct {
		const char *legacy, *v2, *text;
	} cases[] = {
	    {"[{\"volume_id\":\"" VOL "\",\"device_name\":\"vda\"}]",
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"boot_index\":0}]",
	     "Using different block_device_mapping syntaxes is not allowed."},
	    {NULL, "[{\"uuid\":\"" VOL "\",\"source_type\":\"disk\",\"boot_index\":0}]",
	     "Invalid input for field/attribute source_type."},
	    {NULL,
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\",\"destination_type\":\"cloud\","
	     "\"boot_index\":0}]",
	     "Invalid input for field/attribute destination_type."},
	    {NULL,
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"boot_index\":\"zero\"}]",
	     "Invalid input for field/attribute boot_index."},
	    {NULL,
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"boot_index\":0,\"volume_size\":-1}]",
	     "Invalid input for field/attribute volume_size."},
	    {NULL,
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"boot_index\":0,\"bogus\":1}]",
	     "Additional properties are not allowed"},
	    {NULL,
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"boot_index\":0,\"delete_on_termination\":\"maybe\"}]",
	     "Invalid input for field/attribute delete_on_termination."},
	    {NULL,
	     "[{\"uuid\":\"nope\",\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"boot_index\":0}]",
	     "Block Device Mapping is Invalid: failed to get volume nope."},
	    {NULL,
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"snapshot\","
	     "\"destination_type\":\"local\",\"boot_index\":0}]",
	     "Block Device Mapping is Invalid"},
	    {NULL,
	     "[{\"source_type\":\"blank\",\"destination_type\":\"local\",\"boot_index\":-1,"
	     "\"guest_format\":\"swap\"}]",
	     "Block Device Mapping is Invalid"},
	    {NULL,
	     "[{\"uuid\":\"" VOL "\",\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"boot_index\":0},{\"uuid\":\"" VOL "\",\"source_type\":\"volume\","
	     "\"destination_type\":\"volume\",\"boot_index\":1}]",
	     "Block Device Mapping is Invalid"},
	    {NULL, "[\"vda\"]", "Invalid input for field/attribute block_device_mapping_v2."},
	    {NULL, "{\"uuid\":\"" VOL "\"}",
	     "Invalid input for field/attribute block_device_mapping_v2."},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].legacy, cases[i].v2, &b, err), -EINVAL);
		if (!strstr(err, cases[i].text))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].text);
		assert_int_equal(b.source, SERVER_BDM_NONE);
	}
}

static void v2_snapshot_to_volume(void **state)
{
	struct server_bdm b;
	char err[512];
	assert_int_equal(parse(NULL,
	                       "[{\"uuid\":\"" VOL "\",\"source_type\":\"snapshot\","
	                       "\"destination_type\":\"volume\",\"boot_index\":0}]",
	                       &b, err),
	                 0);
	assert_int_equal(b.source, SERVER_BDM_SNAPSHOT);
	assert_string_equal(b.uuid, VOL_LOWER);
	assert_int_equal(b.volume_size, 0); /* the snapshot's size */
	assert_int_equal(parse(NULL,
	                       "[{\"uuid\":\"" VOL "\",\"source_type\":\"snapshot\","
	                       "\"destination_type\":\"volume\",\"boot_index\":\"0\","
	                       "\"volume_size\":3,\"delete_on_termination\":true}]",
	                       &b, err),
	                 0);
	assert_int_equal(b.source, SERVER_BDM_SNAPSHOT);
	assert_int_equal(b.volume_size, 3);
	assert_true(b.delete_on_termination);
}

/* from_image on the properties {"bdm_v2": bdm_v2, "block_device_mapping": map} (NULL:
 * absent); returns its code. */
static int from_image(const char *bdm_v2, const char *map, struct server_bdm *b, char *err)
{
	json_t *p = json_object();
	if (bdm_v2)
		json_object_set_new(p, "bdm_v2", json_string(bdm_v2));
	if (map)
		json_object_set_new(p, "block_device_mapping", json_string(map));
	json_object_set_new(p, "image_type", json_string("snapshot"));
	memset(b, 0, sizeof(*b));
	err[0] = 0;
	int rc = server_bdm_from_image(p, b, err, 512);
	json_decref(p);
	return rc;
}

/* The image createImage makes of a volume-backed server (Nova's mapping, as Nova writes
 * it: snapshot_id, no uuid, boot_index 0, keys the API does not take) boots from a new
 * volume of its snapshot; images without a mapping boot as images. */
static void image_mapping(void **state)
{
	struct server_bdm b;
	char err[512];
	const char *nova = "[{\"source_type\":\"snapshot\",\"destination_type\":\"volume\","
	                   "\"snapshot_id\":\"" VOL "\",\"volume_size\":2,\"boot_index\":0,"
	                   "\"delete_on_termination\":true,\"device_name\":\"/dev/vda\","
	                   "\"device_type\":\"disk\",\"disk_bus\":\"virtio\","
	                   "\"guest_format\":null,\"volume_type\":null,\"image_id\":null,"
	                   "\"volume_id\":null,\"no_device\":null}]";
	assert_int_equal(from_image("True", nova, &b, err), 1);
	assert_int_equal(b.source, SERVER_BDM_SNAPSHOT);
	assert_string_equal(b.uuid, VOL_LOWER);
	assert_int_equal(b.volume_size, 2);
	assert_true(b.delete_on_termination);
	/* no mapping, or not a v2 one: an image like any other */
	assert_int_equal(from_image(NULL, NULL, &b, err), 0);
	assert_int_equal(from_image("True", NULL, &b, err), 0);
	assert_int_equal(from_image(NULL, nova, &b, err), 0);
	assert_int_equal(from_image("False", nova, &b, err), 0);
	assert_int_equal(b.source, SERVER_BDM_NONE);
	/* what Nubo cannot boot: a clear 400, nothing made */
	static const struct {
		const char *map, *text;
	} bad[] = {
	    {"not json", "is not a list"},
	    {"[]", "is not a list"},
	    {"[1]", "is not a list"},
	    {"[{\"source_type\":\"snapshot\",\"destination_type\":\"volume\","
	     "\"snapshot_id\":\"" VOL "\",\"boot_index\":0},{\"source_type\":\"snapshot\","
	     "\"destination_type\":\"volume\",\"snapshot_id\":\"" VOL "\"}]",
	     "maps 2 disks"},
	    {"[{\"source_type\":\"snapshot\",\"destination_type\":\"volume\","
	     "\"snapshot_id\":\"" VOL "\"}]",
	     "one volume"}, /* no root */
	    {"[{\"source_type\":\"volume\",\"destination_type\":\"volume\","
	     "\"volume_id\":\"" VOL "\",\"uuid\":\"" VOL "\",\"boot_index\":0}]",
	     "not a volume snapshot"},
	    {"[{\"source_type\":\"snapshot\",\"destination_type\":\"volume\","
	     "\"snapshot_id\":\"nope\",\"boot_index\":0}]",
	     "failed to get snapshot nope"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(from_image("True", bad[i].map, &b, err), -EINVAL);
		if (!strstr(err, bad[i].text))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].text);
		assert_int_equal(b.source, SERVER_BDM_NONE);
	}
}

/* A name of 67+ three-byte characters: cut at 200 bytes it would split a character,
 * and jansson refuses the invalid UTF-8 (the create then answered 400). */
static void volume_name_cut_on_utf8_boundary(void **state)
{
	(void)state;
	char name[3 * 80 + 1];
	for (int i = 0; i < 80; i++)
		memcpy(name + 3 * i, "\xe4\xb8\xad", 3);
	name[sizeof(name) - 1] = 0;
	char *v = server_bdm_volume_name(name);
	assert_int_equal(strlen(v), 198 + strlen("-volume"));
	json_t *s = json_string(v);
	assert_non_null(s);
	json_decref(s);
	free(v);
	v = server_bdm_volume_name(NULL);
	assert_string_equal(v, "server-volume");
	free(v);
	v = server_bdm_volume_name("web");
	assert_string_equal(v, "web-volume");
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(none_without_mappings),
	    cmocka_unit_test(v2_volume),
	    cmocka_unit_test(v2_image_to_volume),
	    cmocka_unit_test(legacy_root_volume),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(v2_snapshot_to_volume),
	    cmocka_unit_test(image_mapping),
	    cmocka_unit_test(volume_name_cut_on_utf8_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
