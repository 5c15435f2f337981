/* Unit tests for the log (engine/base/log.c): a message repeated in a burst
 * is rate limited, another message keeps its own budget, and the next line
 * after the pause says how many were held. Split from wire/test_clients.c.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/log.h"

/* Run f with stderr sent to a temporary file; return what it wrote. */
static char *capture(void (*f)(void))
{
    char path[] = "/tmp/arb-test-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    f();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    cr_assert(pread(fd, text, (size_t)n, 0) == n);
    close(fd);
    unlink(path);
    return text;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void flood(void)
{
    for (int i = 0; i < 500; i++) arb_log_warn("unit flood", "i=%d", i);
    arb_log_info("unit other", NULL);   /* another message has its own budget */
}

static void after_a_second(void)
{
    sleep(1);
    usleep(100000);
    arb_log_warn("unit flood", "i=last");
}

Test(log, repeated_lines_are_rate_limited_and_counted)
{
    char *a = capture(flood);
    size_t lines = count(a, "msg=\"unit flood\"");
    cr_assert(lines >= 1 && lines <= 40, "%zu lines of one message in a burst", lines);
    cr_assert_eq(count(a, "msg=\"unit other\""), 1);
    char *b = capture(after_a_second);
    cr_assert(strstr(b, "i=last suppressed="), "the next line does not say what was held: %s", b);
    unsigned long held = strtoul(strstr(b, "suppressed=") + 11, NULL, 10);
    cr_assert_eq(held + lines, 500, "%lu held + %zu written != 500", held, lines);
    free(a);
    free(b);
}
