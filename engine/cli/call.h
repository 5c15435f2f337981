/* engine/cli/: the command-line front ends. Its rule: the offline commands
 * (rules.c) read arb_decision_t values, never packed answer bytes (--json
 * prints the answer's shape through wire/answer.c); the commands that talk
 * to a server (this file's call.c) go through bindings/client. It includes
 * only the folders before it. (ARCHITECTURE.md; scripts/layers checks the
 * includes.)
 *
 * The `arbiter call` and `arbiter reload` subcommands: thin command-line
 * front ends over the C client that talk to a running server.
 *
 * Both take the subcommand's own argv (argv[0] is "call" or "reload") and
 * return the process exit status: 0 success, 1 the server answered an error,
 * 2 usage errors, bad JSON input or connection failures.
 */
#ifndef ARB_CLI_CALL_H
#define ARB_CLI_CALL_H

/* arbiter call [--connect HOST:PORT | --socket PATH] METHOD [JSON|-] */
int arb_cli_call(int argc, char **argv);

/* arbiter reload --admin PATH */
int arb_cli_reload(int argc, char **argv);

#endif
