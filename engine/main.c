/* arbiter: the command line. `serve` runs the server; the other commands
 * are thin front ends (cli_rules.c offline, cli_call.c over RPC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/call.h"
#include "engine/cli/report.h"
#include "engine/cli/rules.h"
#include "engine/cli/stats.h"
#include "engine/server/server.h"

static int usage(FILE *f, int code)
{
    fprintf(f,
        "usage: arbiter COMMAND [ARGS]\n"
        "\n"
        "  serve  --rules DIR [--listen HOST:PORT] [--socket PATH] [--admin PATH] [--workers N]\n"
        "  check  DIR                          load and validate a ruleset\n"
        "  test   DIR                          run the ruleset's tests\n"
        "  decide --rules DIR CONTEXT.json [--explain] [--json]\n"
        "  replay --rules DIR CONTEXTS.jsonl [--against DIR2]\n"
        "  replay --rules DIR --log LOGDIR [--against DIR2]  replay the logged contexts\n"
        "  report LOGDIR [--since T] [--until T] [--by action|arm|channel] [--json]\n"
        "  call   [--connect HOST:PORT | --socket PATH] METHOD [JSON]\n"
        "  reload --admin PATH                 reload the server's ruleset\n"
        "  stats  [--connect HOST:PORT | --socket PATH] [--json]  the server's counters\n"
        "\n"
        "`arbiter COMMAND --help` tells more. Exit codes: 0 ok, 1 findings, 2 usage.\n");
    return code;
}

static int serve(int argc, char **argv)
{
    arb_config_t cfg;
    int code = arb_config_parse(&cfg, argc, argv);
    return code >= 0 ? code : arb_server_run(&cfg);
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr, 2);
    const char *cmd = argv[1];
    int n = argc - 1;
    char **args = argv + 1;
    if (strcmp(cmd, "serve") == 0) return serve(n, args);
    if (strcmp(cmd, "check") == 0) return arb_cli_check(n, args);
    if (strcmp(cmd, "test") == 0) return arb_cli_test(n, args);
    if (strcmp(cmd, "decide") == 0) return arb_cli_decide(n, args);
    if (strcmp(cmd, "replay") == 0) return arb_cli_replay(n, args);
    if (strcmp(cmd, "report") == 0) return arb_cli_report(n, args);
    if (strcmp(cmd, "call") == 0) return arb_cli_call(n, args);
    if (strcmp(cmd, "reload") == 0) return arb_cli_reload(n, args);
    if (strcmp(cmd, "stats") == 0) return arb_cli_stats(n, args);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
        return usage(stdout, 0);
    fprintf(stderr, "arbiter: unknown command '%s'\n", cmd);
    return usage(stderr, 2);
}
