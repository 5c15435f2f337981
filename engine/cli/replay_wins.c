/* How often each action wins in a replay (replay_wins.h): decisions and
 * wins counted overall, per channel and per touchpoint, in jansson objects
 * (the counts are a CLI's, for thousands of contexts, not a server's hot
 * path), printed as tables or as JSON. Keeps cli/'s rule: decisions in,
 * text out.
 */
#include "engine/cli/replay_wins.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Each group is { "decisions": n, "wins": { id: n } }; the overall one,
 * then one per channel and one per touchpoint, by name. */
struct arb_replay_wins {
    json_t *all, *by_channel, *by_touchpoint;
};

static json_t *group_new(void) { return json_pack("{sI s{}}", "decisions", (json_int_t)0, "wins"); }

arb_replay_wins_t *arb_replay_wins_new(void)
{
    arb_replay_wins_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->all = group_new();
    w->by_channel = json_object();
    w->by_touchpoint = json_object();
    if (!w->all || !w->by_channel || !w->by_touchpoint) {
        arb_replay_wins_free(w);
        return NULL;
    }
    return w;
}

void arb_replay_wins_free(arb_replay_wins_t *w)
{
    if (!w) return;
    json_decref(w->all);
    json_decref(w->by_channel);
    json_decref(w->by_touchpoint);
    free(w);
}

static void bump(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v) json_integer_set(v, json_integer_value(v) + 1);
    else json_object_set_new(obj, key, json_integer(1));
}

/* Count dec in group `name` of `groups` (NULL: g itself). A failed
 * allocation loses a count, never the replay. */
static void group_add(json_t *groups, const char *name, json_t *g, const arb_decision_t *dec)
{
    if (groups) {
        g = json_object_get(groups, name);
        if (!g) {
            g = group_new();
            if (!g || json_object_set_new(groups, name, g) < 0) return;
        }
    }
    bump(g, "decisions");
    json_t *wins = json_object_get(g, "wins");
    for (uint32_t i = 0; wins && i < dec->n_actions; i++) bump(wins, dec->actions[i].id);
}

void arb_replay_wins_add(arb_replay_wins_t *w, const arb_decision_t *dec)
{
    group_add(NULL, NULL, w->all, dec);
    group_add(w->by_channel, dec->channel ? dec->channel : "", NULL, dec);
    group_add(w->by_touchpoint, dec->touchpoint ? dec->touchpoint : "", NULL, dec);
}

/* One row of a sorted table. */
typedef struct row {
    const char *id;
    json_int_t wins;
} row_t;

static int by_wins(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->wins != y->wins) return x->wins > y->wins ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The wins of group g, most first, as rows (the caller frees); *n of them. */
static row_t *sorted_rows(const json_t *g, size_t *n)
{
    const json_t *wins = json_object_get(g, "wins");
    *n = json_object_size(wins);
    row_t *rows = malloc((*n ? *n : 1) * sizeof *rows);
    if (!rows) {
        *n = 0;
        return NULL;
    }
    size_t k = 0;
    const char *id;
    json_t *v;
    json_object_foreach((json_t *)wins, id, v) rows[k++] = (row_t){ id, json_integer_value(v) };
    qsort(rows, k, sizeof *rows, by_wins);
    return rows;
}

static double share(json_int_t wins, json_int_t decisions)
{
    return decisions ? 100.0 * (double)wins / (double)decisions : 0;
}

/* Groups in name order: jansson keeps insertion order. */
static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_groups(FILE *f, const char *title, const json_t *groups)
{
    size_t n = json_object_size(groups), k = 0;
    if (!n) return;
    const char **names = malloc(n * sizeof *names);
    if (!names) return;
    const char *name;
    json_t *g;
    json_object_foreach((json_t *)groups, name, g) names[k++] = name;
    qsort(names, k, sizeof *names, by_name);
    fprintf(f, "wins by %s:\n", title);
    for (size_t i = 0; i < k; i++) {
        g = json_object_get(groups, names[i]);
        json_int_t decisions = json_integer_value(json_object_get(g, "decisions"));
        fprintf(f, "  %s  (%lld decision%s)\n", names[i][0] ? names[i] : "(none)", (long long)decisions,
                decisions == 1 ? "" : "s");
        size_t m;
        row_t *rows = sorted_rows(g, &m);
        int width = 6;
        for (size_t j = 0; j < m; j++)
            if ((int)strlen(rows[j].id) > width) width = (int)strlen(rows[j].id);
        for (size_t j = 0; j < m; j++)
            fprintf(f, "    %-*s  %8lld  %5.1f%%\n", width, rows[j].id, (long long)rows[j].wins,
                    share(rows[j].wins, decisions));
        if (!m) fprintf(f, "    no action\n");
        free(rows);
    }
    free(names);
}

void arb_replay_wins_print(const arb_replay_wins_t *w, FILE *f)
{
    print_groups(f, "channel", w->by_channel);
    print_groups(f, "touchpoint", w->by_touchpoint);
}

/* Group g as { decisions, actions: [ { id, wins, share } ] }, most wins first. */
static json_t *group_json(const json_t *g)
{
    json_int_t decisions = json_integer_value(json_object_get(g, "decisions"));
    json_t *actions = json_array();
    size_t m;
    row_t *rows = sorted_rows(g, &m);
    for (size_t j = 0; actions && j < m; j++)
        json_array_append_new(actions, json_pack("{ss sI sf}", "id", rows[j].id, "wins", rows[j].wins,
                                                 "share", share(rows[j].wins, decisions) / 100));
    free(rows);
    return json_pack("{sI so*}", "decisions", decisions, "actions", actions);
}

static json_t *groups_json(const json_t *groups)
{
    json_t *o = json_object();
    const char *name;
    json_t *g;
    json_object_foreach((json_t *)groups, name, g) json_object_set_new(o, name, group_json(g));
    return o;
}

char *arb_replay_wins_json(const arb_replay_wins_t *w, unsigned contexts, unsigned invalid,
                           unsigned no_action)
{
    json_t *all = group_json(w->all);
    json_t *o = json_pack("{sI sI sI so* so* so*}", "contexts", (json_int_t)contexts, "invalid",
                          (json_int_t)invalid, "no_action", (json_int_t)no_action, "actions",
                          all ? json_incref(json_object_get(all, "actions")) : NULL, "by_channel",
                          groups_json(w->by_channel), "by_touchpoint", groups_json(w->by_touchpoint));
    json_decref(all);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    return text;
}
