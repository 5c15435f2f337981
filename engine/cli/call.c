/* `arbiter call` and `arbiter reload`: send one MessagePack-RPC request to a
 * running server and print the answer as JSON.
 *
 * Exit status is part of the interface (scripts and CI test on it):
 * 0 result printed, 1 the server answered an error, 2 anything that kept the
 * request from being answered (usage, bad JSON, connection or protocol).
 */
#include "engine/cli/call.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bindings/client/client.h"
#include "engine/base/fileio.h"
#include "engine/base/pack.h"
#include "engine/wire/json.h"

#define ARB_CALL_DEFAULT_CONNECT "127.0.0.1:7878"
#define ARB_CALL_DEFAULT_TIMEOUT 60.0

enum { ARB_EXIT_OK = 0, ARB_EXIT_RPC_ERROR = 1, ARB_EXIT_FAILURE = 2 };

/* Where to connect: unix_path when set, else the TCP address. */
typedef struct arb_target {
    const char *tcp;
    const char *unix_path;
    const char *timeout;   /* --timeout SECS as given, NULL for the default */
} arb_target_t;

static void arb_call_usage(FILE *f)
{
    fputs("usage: arbiter call [--connect HOST:PORT | --socket PATH] [--timeout SECS] METHOD [JSON]\n"
          "\n"
          "Send one MessagePack-RPC request and print the result as JSON.\n"
          "\n"
          "  --connect HOST:PORT  server TCP address (default " ARB_CALL_DEFAULT_CONNECT
          ", [::1]:7878 for IPv6)\n"
          "  --socket PATH        connect to a Unix socket instead\n"
          "  --timeout SECS       give up when no answer came by then (default 60)\n"
          "  -h, --help           show this help\n"
          "\n"
          "JSON, if given, is sent as the only parameter (params = [JSON]); \"-\" reads\n"
          "it from stdin. Without it params = [].\n"
          "Exit status: 0 success, 1 the server answered an error, 2 usage, JSON or\n"
          "connection error.\n", f);
}

static void arb_reload_usage(FILE *f)
{
    fputs("usage: arbiter reload --admin PATH [--catalog] [--timeout SECS]\n"
          "\n"
          "Ask a running server to reload its rules, through its admin Unix socket.\n"
          "\n"
          "  --admin PATH    the server's admin socket\n"
          "  --catalog       reload only the ruleset's catalog (stock, prices): the\n"
          "                  rules and their version stay\n"
          "  --timeout SECS  give up when no answer came by then (default 60); the\n"
          "                  server may still finish the reload\n"
          "  -h, --help      show this help\n"
          "\n"
          "Exit status: 0 reloaded, 1 the server refused (problems are listed on\n"
          "stderr), 2 usage, connection error or no answer within the timeout.\n", f);
}

/* ---- argument parsing ------------------------------------------------ */

/* Match "--name VALUE" or "--name=VALUE" at argv[*i]. Returns 1 and sets
 * *value (advancing *i past a separate value), 0 when argv[*i] is some other
 * argument, -1 when the value is missing. */
static int arb_take_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

/* "-" (stdin) and negative numbers are JSON arguments, not options. */
static int arb_looks_like_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9');
}

static int arb_is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static int arb_usage_error(const char *cmd, const char *msg, const char *arg)
{
    fprintf(stderr, "arbiter %s: %s%s\n", cmd, msg, arg ? arg : "");
    fprintf(stderr, "Try 'arbiter %s --help'.\n", cmd);
    return ARB_EXIT_FAILURE;
}

/* ---- input ----------------------------------------------------------- */

/* Bytes the JSON on stdin may hold: a bound on what a mistaken pipe can
 * cost, far past the frame a server accepts. */
#define STDIN_MAX ((size_t)1 << 30)

/* The JSON text on stdin, or NULL after printing why not. */
static char *arb_read_stdin(void)
{
    size_t len = 0;
    char *buf = NULL, err[300];
    if (arb_fd_read(STDIN_FILENO, STDIN_MAX, &buf, &len, err, sizeof err) < 0) {
        fprintf(stderr, "arbiter call: reading stdin: %s\n", err);
        buf = NULL;
    } else if (strlen(buf) != len) {
        /* The JSON parser stops at a NUL; refuse rather than drop the rest. */
        fputs("arbiter call: invalid JSON on stdin: contains a NUL byte\n", stderr);
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* Pack params as [] or [JSON]. Returns 0, or an exit status after printing why. */
static int arb_pack_params(const char *json, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, json != NULL) != 0) {
        fputs("arbiter call: out of memory\n", stderr);
        return ARB_EXIT_FAILURE;
    }
    if (json == NULL)
        return 0;
    int from_stdin = strcmp(json, "-") == 0;
    char *text = from_stdin ? arb_read_stdin() : NULL;
    if (from_stdin && text == NULL)
        return ARB_EXIT_FAILURE;
    char err[256];
    int rc = arb_json_to_msgpack(from_stdin ? text : json, sb, err, sizeof(err));
    free(text);
    if (rc != 0) {
        fprintf(stderr, "arbiter call: invalid JSON %s: %s\n",
                from_stdin ? "on stdin" : "argument", err);
        return ARB_EXIT_FAILURE;
    }
    return 0;
}

/* ---- output ---------------------------------------------------------- */

/* Print a value for humans: strings bare, anything else as compact JSON. */
static void arb_print_text(FILE *f, const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        fwrite(o->via.str.ptr, 1, o->via.str.size, f);
        return;
    }
    char *s = arb_msgpack_to_json(o, 0);
    fputs(s ? s : "(out of memory)", f);
    free(s);
}

/* "error: CODE: MESSAGE" for the usual {code, message} map; servers that
 * answer something else still get their error shown, as text or JSON. */
static void arb_print_rpc_error(const msgpack_object *err)
{
    const msgpack_object *code = arb_msgpack_map_get(err, "code");
    const msgpack_object *msg = arb_msgpack_map_get(err, "message");
    fputs("error: ", stderr);
    if (msg == NULL) {
        arb_print_text(stderr, err);
    } else {
        if (code != NULL) {
            arb_print_text(stderr, code);
            fputs(": ", stderr);
        }
        arb_print_text(stderr, msg);
    }
    fputc('\n', stderr);
}

/* The reload error's "errors" array, one problem per line. */
static void arb_print_error_list(const msgpack_object *err)
{
    const msgpack_object *list = arb_msgpack_map_get(err, "errors");
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        arb_print_text(stderr, &list->via.array.ptr[i]);
        fputc('\n', stderr);
    }
}

static int arb_print_result(const char *cmd, const msgpack_object *result)
{
    char *s = arb_msgpack_to_json(result, 1);
    if (s == NULL) {
        fprintf(stderr, "arbiter %s: out of memory rendering the result\n", cmd);
        return ARB_EXIT_FAILURE;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "arbiter %s: writing stdout: %s\n", cmd, strerror(errno));
        return ARB_EXIT_FAILURE;
    }
    return ARB_EXIT_OK;
}

/* ---- the request ----------------------------------------------------- */

/* The whole call (connect, send, wait) is bounded by a real-time timer
 * whose handler ends the process: the client library blocks, and a server
 * that accepts but never answers must not hang a script forever. */
static char arb_timeout_msg[256];
static size_t arb_timeout_len;

static void arb_on_alarm(int sig)
{
    (void)sig;
    ssize_t w = write(STDERR_FILENO, arb_timeout_msg, arb_timeout_len);
    (void)w;
    _exit(ARB_EXIT_FAILURE);
}

static int arb_arm_timeout(const char *cmd, const char *text)
{
    double secs = ARB_CALL_DEFAULT_TIMEOUT;
    if (text) {
        char *end;
        secs = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || !(secs > 0 && secs <= 86400))
            return arb_usage_error(cmd, "--timeout must be a number of seconds in (0, 86400]: ",
                                   text);
    }
    int n = snprintf(arb_timeout_msg, sizeof arb_timeout_msg,
                     "arbiter %s: no answer within %g s (--timeout); the server may still "
                     "complete the request\n", cmd, secs);
    arb_timeout_len = n > 0 && (size_t)n < sizeof arb_timeout_msg ? (size_t)n : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = arb_on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)secs;
    it.it_value.tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, NULL);
    return 0;
}

/* Connect, send one request and print its answer. Returns the exit status. */
static int arb_run(const char *cmd, const arb_target_t *t, const char *method,
                   const char *params, size_t params_len, int list_errors)
{
    char err[512];
    if (arb_arm_timeout(cmd, t->timeout) != 0)
        return ARB_EXIT_FAILURE;
    arb_client_t *c = t->unix_path ? arb_client_connect_unix(t->unix_path, err, sizeof(err))
                                   : arb_client_connect_tcp(t->tcp, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "arbiter %s: %s\n", cmd, err);
        return ARB_EXIT_FAILURE;
    }
    arb_client_reply_t reply;
    int status = ARB_EXIT_FAILURE;
    if (arb_client_call(c, method, params, params_len, &reply, err, sizeof(err)) != 0) {
        fprintf(stderr, "arbiter %s: %s\n", cmd, err);
    } else if (reply.is_error) {
        arb_print_rpc_error(&reply.error);
        if (list_errors)
            arb_print_error_list(&reply.error);
        status = ARB_EXIT_RPC_ERROR;
    } else {
        status = arb_print_result(cmd, &reply.result);
    }
    arb_client_reply_destroy(&reply);
    arb_client_close(c);
    return status;
}

/* ---- arbiter call ---------------------------------------------------- */

typedef struct arb_call_args {
    arb_target_t target;
    const char *method;
    const char *json;
    int help;
} arb_call_args_t;

/* Options may come before or after METHOD; "--" ends them. */
static int arb_parse_call(int argc, char **argv, arb_call_args_t *a)
{
    int npos = 0, opts_done = 0;
    const char *tcp = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int r = 0;
        if (!opts_done && strcmp(arg, "--") == 0) {
            opts_done = 1;
            continue;
        }
        if (!opts_done && arb_is_help(arg)) {
            a->help = 1;
            return 0;
        }
        if (!opts_done) {
            r = arb_take_opt(argc, argv, &i, "--connect", &tcp);
            if (r == 0)
                r = arb_take_opt(argc, argv, &i, "--socket", &a->target.unix_path);
            if (r == 0)
                r = arb_take_opt(argc, argv, &i, "--timeout", &a->target.timeout);
        }
        if (r < 0)
            return arb_usage_error("call", "option needs a value: ", arg);
        if (r > 0)
            continue;
        if (!opts_done && arb_looks_like_option(arg))
            return arb_usage_error("call", "unknown option: ", arg);
        if (npos == 2)
            return arb_usage_error("call", "too many arguments (pass one JSON value): ", arg);
        if (npos++ == 0)
            a->method = arg;
        else
            a->json = arg;
    }
    if (tcp != NULL && a->target.unix_path != NULL)
        return arb_usage_error("call", "--connect and --socket cannot be used together", NULL);
    if (a->method == NULL || a->method[0] == '\0')
        return arb_usage_error("call", "missing METHOD", NULL);
    a->target.tcp = tcp ? tcp : ARB_CALL_DEFAULT_CONNECT;
    return 0;
}

int arb_cli_call(int argc, char **argv)
{
    arb_call_args_t a = {{NULL, NULL, NULL}, NULL, NULL, 0};
    int rc = arb_parse_call(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (a.help) {
        arb_call_usage(stdout);
        return ARB_EXIT_OK;
    }
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    rc = arb_pack_params(a.json, &params);
    if (rc == 0)
        rc = arb_run("call", &a.target, a.method, params.data, params.size, 0);
    msgpack_sbuffer_destroy(&params);
    return rc;
}

/* ---- arbiter reload -------------------------------------------------- */

int arb_cli_reload(int argc, char **argv)
{
    arb_target_t t = {NULL, NULL, NULL};
    int catalog = 0;
    for (int i = 1; i < argc; i++) {
        if (arb_is_help(argv[i])) {
            arb_reload_usage(stdout);
            return ARB_EXIT_OK;
        }
        if (strcmp(argv[i], "--catalog") == 0) {
            catalog = 1;
            continue;
        }
        int r = arb_take_opt(argc, argv, &i, "--admin", &t.unix_path);
        if (r == 0)
            r = arb_take_opt(argc, argv, &i, "--timeout", &t.timeout);
        if (r < 0)
            return arb_usage_error("reload", "option needs a value: ", argv[i]);
        if (r == 0)
            return arb_usage_error("reload", "unexpected argument: ", argv[i]);
    }
    if (t.unix_path == NULL)
        return arb_usage_error("reload", "missing --admin PATH", NULL);
    if (!catalog)
        return arb_run("reload", &t, "reload", NULL, 0, 1); /* NULL params: [] */
    /* The catalog-only reload of engine/server/catalog_reload.c. */
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    int rc = arb_pack_params("{\"only\": \"catalog\"}", &params);
    if (rc == 0)
        rc = arb_run("reload", &t, "reload", params.data, params.size, 1);
    msgpack_sbuffer_destroy(&params);
    return rc;
}
