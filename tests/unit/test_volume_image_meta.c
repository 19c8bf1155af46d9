/* A volume's volume_image_metadata view (volume_image_meta_view): what was set wins;
 * else the image a volume was made from; else none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api-server/volume/volume_image.h"

static void test_none(void **state)
{
	(void)state;
	assert_null(volume_image_meta_view(NULL, NULL));
}

static void test_from_image(void **state)
{
	(void)state;
	json_t *m = volume_image_meta_view("img-1", NULL);
	assert_non_null(m);
	assert_int_equal(json_object_size(m), 1);
	assert_string_equal(json_string_value(json_object_get(m, "image_id")), "img-1");
	json_decref(m);
}

static void test_set_wins(void **state)
{
	(void)state;
	/* once set, the stored object is the whole metadata: an unset image_id stays gone */
	json_t *m = volume_image_meta_view("img-1", "{\"kernel_id\": \"k\"}");
	assert_non_null(m);
	assert_null(json_object_get(m, "image_id"));
	assert_string_equal(json_string_value(json_object_get(m, "kernel_id")), "k");
	json_decref(m);
	m = volume_image_meta_view(NULL, "{}");
	assert_non_null(m);
	assert_int_equal(json_object_size(m), 0);
	json_decref(m);
}

static void test_damaged_is_empty(void **state)
{
	(void)state;
	json_t *m = volume_image_meta_view("img-1", "[1, 2]");
	assert_true(json_is_object(m));
	assert_int_equal(json_object_size(m), 0);
	json_decref(m);
	m = volume_image_meta_view(NULL, "not json");
	assert_true(json_is_object(m));
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_none),
	    cmocka_unit_test(test_from_image),
	    cmocka_unit_test(test_set_wins),
	    cmocka_unit_test(test_damaged_is_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
