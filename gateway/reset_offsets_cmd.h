/* reset_offsets_cmd.h: `sqgate reset-offsets` (SPEC 10): clear a group's
 * applied offsets of a recreated topic from Redis. */
#ifndef SQ_RESET_OFFSETS_CMD_H
#define SQ_RESET_OFFSETS_CMD_H

/* argv: the options after "reset-offsets". Exit status: 0 done, 1 a bad
 * configuration, 2 a usage error or Redis unreachable. */
int sq_reset_offsets_main(int argc, char **argv);

#endif
