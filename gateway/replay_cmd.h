/* replay_cmd.h: `sqgate replay`: the chain offline over NDJSON input. */
#ifndef SQ_REPLAY_CMD_H
#define SQ_REPLAY_CMD_H

/* argv: the options after "replay". Returns the exit status (SPEC 11). */
int sq_replay_main(int argc, char **argv);

#endif
