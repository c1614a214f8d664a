/* validate_cmd.h: `sqgate validate`: NDJSON instances checked against a
 * JSON Schema (SPEC 11). */
#ifndef SQ_VALIDATE_CMD_H
#define SQ_VALIDATE_CMD_H

/* argv: the arguments after "validate". Prints one line per input line and
 * a summary to stdout, problems with the command itself to stderr. Returns
 * the exit status: 0 every line valid, 1 any invalid, 2 a usage error, an
 * unreadable input or an unusable schema. */
int sq_validate_main(int argc, char **argv);

#endif
