/* GET /image/v2/schemas/image and /schemas/images: the JSON schemas Glance clients
 * fetch to learn which attributes exist. Ours lists the core attributes we serve and
 * says that every other property is a string (additionalProperties). */
#include "image/image.h"

static const char image_schema_text[] =
    "{\"name\": \"image\","
    " \"properties\": {"
    "  \"id\": {\"type\": \"string\", \"description\": \"An identifier for the image\","
    "   \"pattern\": \"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
    "-([0-9a-fA-F]){12}$\"},"
    "  \"name\": {\"type\": [\"null\", \"string\"], \"maxLength\": 255,"
    "   \"description\": \"Descriptive name for the image\"},"
    "  \"status\": {\"type\": \"string\", \"readOnly\": true,"
    "   \"enum\": [\"queued\", \"saving\", \"active\", \"killed\", \"deleted\", \"uploading\","
    "    \"importing\", \"pending_delete\", \"deactivated\"]},"
    "  \"visibility\": {\"type\": \"string\","
    "   \"enum\": [\"community\", \"public\", \"private\", \"shared\"]},"
    "  \"protected\": {\"type\": \"boolean\"},"
    "  \"os_hidden\": {\"type\": \"boolean\"},"
    "  \"checksum\": {\"type\": [\"null\", \"string\"], \"readOnly\": true, \"maxLength\": 32},"
    "  \"os_hash_algo\": {\"type\": [\"null\", \"string\"], \"readOnly\": true,"
    "   \"maxLength\": 64},"
    "  \"os_hash_value\": {\"type\": [\"null\", \"string\"], \"readOnly\": true,"
    "   \"maxLength\": 128},"
    "  \"owner\": {\"type\": [\"null\", \"string\"], \"maxLength\": 255},"
    "  \"size\": {\"type\": [\"null\", \"integer\"], \"readOnly\": true},"
    "  \"virtual_size\": {\"type\": [\"null\", \"integer\"], \"readOnly\": true},"
    "  \"container_format\": {\"type\": [\"null\", \"string\"], \"enum\": [null, \"bare\"]},"
    "  \"disk_format\": {\"type\": [\"null\", \"string\"],"
    "   \"enum\": [null, \"raw\", \"qcow2\", \"iso\"]},"
    "  \"created_at\": {\"type\": \"string\", \"readOnly\": true},"
    "  \"updated_at\": {\"type\": \"string\", \"readOnly\": true},"
    "  \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 255}},"
    "  \"min_ram\": {\"type\": \"integer\"},"
    "  \"min_disk\": {\"type\": \"integer\"},"
    "  \"self\": {\"type\": \"string\", \"readOnly\": true},"
    "  \"file\": {\"type\": \"string\", \"readOnly\": true},"
    "  \"schema\": {\"type\": \"string\", \"readOnly\": true}"
    " },"
    " \"additionalProperties\": {\"type\": \"string\"},"
    " \"links\": [{\"rel\": \"self\", \"href\": \"{self}\"},"
    "  {\"rel\": \"enclosure\", \"href\": \"{file}\"},"
    "  {\"rel\": \"describedby\", \"href\": \"{schema}\"}]}";

static json_t *image_schema(void)
{
	json_t *s = json_loads(image_schema_text, 0, NULL);
	return s ? s : json_object(); /* the text is ours: parsing cannot fail */
}

void image_schema_image(struct req *r, struct resp *w)
{
	resp_json(w, 200, image_schema());
}

void image_schema_images(struct req *r, struct resp *w)
{
	resp_json(w, 200,
	          json_pack("{s:s,s:{s:{s:s,s:o},s:{s:s},s:{s:s},s:{s:s}},s:[{s:s,s:s},{s:s,s:s},"
	                    "{s:s,s:s}]}",
	                    "name", "images", "properties", "images", "type", "array", "items",
	                    image_schema(), "schema", "type", "string", "first", "type", "string",
	                    "next", "type", "string", "links", "rel", "first", "href", "{first}",
	                    "rel", "next", "href", "{next}", "rel", "describedby", "href",
	                    "{schema}"));
}
