/* Host aggregates (os-aggregates): the pure parts the handlers share, for tests. */
#ifndef NUBO_COMPUTE_AGGREGATE_H
#define NUBO_COMPUTE_AGGREGATE_H

#define AGGREGATE_META_MAX 128 /* metadata keys one set_metadata may carry */

/* Pure: an aggregate id of a path (Nova's validate_integer: a decimal int32, sign
 * allowed). 0 with its canonical text in out; -EINVAL when s is not one. */
int aggregate_id_parse(const char *s, char out[16]);

#endif
