/* engine/cli/: the command-line front ends (see call.h for the folder's
 * rule: commands that talk to a server go through bindings/client).
 *
 * `arbiter stats`: asks a running server for its `stats` and prints them
 * for a person (aligned sections), or as JSON with --json. Takes the
 * subcommand's argv (argv[0] is "stats"); returns the exit status: 0
 * printed, 1 the server answered an error, 2 usage or connection error.
 */
#ifndef ARB_CLI_STATS_H
#define ARB_CLI_STATS_H

/* arbiter stats [--connect HOST:PORT | --socket PATH] [--timeout SECS] [--json] */
int arb_cli_stats(int argc, char **argv);

#endif
