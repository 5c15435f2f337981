/* Offline ruleset commands: check, test, decide, replay. Each takes its own
 * argv (argv[0] is the command) and returns the exit code: 0 ok, 1 findings,
 * 2 usage errors. */
#ifndef ARB_CLI_RULES_H
#define ARB_CLI_RULES_H

int arb_cli_check(int argc, char **argv);
int arb_cli_test(int argc, char **argv);
int arb_cli_decide(int argc, char **argv);
int arb_cli_replay(int argc, char **argv);

#endif
