/* `nubo-manage ring ...`: build, add devices to, reweigh, rebalance and show a ring file. */
#ifndef NUBO_OBJSTORE_RING_CMD_H
#define NUBO_OBJSTORE_RING_CMD_H
#include <stdio.h>

/* argv[0] is the subcommand ("build", "add", "set-weight", "rebalance", "show").
 * Prints to out, errors to err. Returns the exit status (2 for a usage error). */
int ring_cmd(int argc, char **argv, FILE *out, FILE *err);

#endif
