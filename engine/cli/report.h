/* `arbiter report LOGDIR`: the uplift report of a decision log, as a table
 * or --json (README.md, "The report"). argv[0] is "report"; returns the
 * exit code: 0 done, 2 usage or an unreadable LOGDIR. */
#ifndef ARB_CLI_REPORT_H
#define ARB_CLI_REPORT_H

int arb_cli_report(int argc, char **argv);

/* Parse T (unix seconds, or YYYY-MM-DD: that day's 00:00 UTC) into *out.
 * 0, or -1 when T is neither. */
int arb_cli_parse_time(const char *t, long long *out);

#endif
