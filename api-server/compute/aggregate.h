/* Host aggregates (os-aggregates): the pure parts the handlers share, for tests. */
#ifndef NUBO_COMPUTE_AGGREGATE_H
#define NUBO_COMPUTE_AGGREGATE_H

/* Metadata keys an aggregate may hold, availability_zone included (and so the most one
 * set_metadata may carry). Nova sets no bound; without one, repeated set_metadata
 * calls would grow every GET /os-aggregates answer without end (review of cadmin,
 * finding 8). More is a 400. */
#define AGGREGATE_META_MAX 128

/* Pure: an aggregate id of a path (Nova's validate_integer: a decimal int32, sign
 * allowed). 0 with its canonical text in out; -EINVAL when s is not one. */
int aggregate_id_parse(const char *s, char out[16]);

#endif
