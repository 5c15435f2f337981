/* Watching the ruleset folder (see watch.h). */
#include "engine/server/watch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/log.h"

static void watch_on_settled(uv_timer_t *t)
{
    arb_watch_t *w = t->data;
    w->on_change(w->data);
}

static void watch_changed(arb_watch_t *w)
{
    uint64_t now = uv_now(w->debounce.loop), delay = ARB_WATCH_QUIET_MS;
    if (!uv_is_active((uv_handle_t *)&w->debounce)) w->first_change_ms = now;
    uint64_t last = w->first_change_ms + ARB_WATCH_MAX_DELAY_MS;
    if (now + delay > last) delay = last > now ? last - now : 0;
    uv_timer_start(&w->debounce, watch_on_settled, delay, 0);
}

static void watch_on_folder(uv_fs_event_t *h, const char *filename, int events, int status)
{
    arb_watch_t *w = h->data;
    if (status < 0) return;
    if (filename && w->catalog && !w->catalog_dir && strcmp(filename, w->catalog) == 0)
        w->catalog_changed = true;
    else if (!filename || strstr(filename, ".lua")) w->rules_changed = true;
    else return;
    watch_changed(w);
}

/* The catalog's subfolder: only the catalog file counts there. */
static void watch_on_sub(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)events;
    arb_watch_t *w = h->data;
    if (status < 0 || !w->catalog || (filename && strcmp(filename, w->catalog) != 0)) return;
    w->catalog_changed = true;
    watch_changed(w);
}

static void watch_sub_arm(arb_watch_t *w)
{
    uv_fs_event_stop(&w->sub);
    if (w->catalog_dir && uv_fs_event_start(&w->sub, watch_on_sub, w->catalog_dir, 0) < 0)
        arb_log_warn("cannot watch the catalog's folder", "dir=%s", w->catalog_dir);
}

static void watch_on_parent(uv_fs_event_t *h, const char *filename, int events, int status)
{
    arb_watch_t *w = h->data;
    /* Renames and creations only: reading the folder changes its atime,
     * which must not look like a change (a reload would follow each reload). */
    if (status < 0 || !(events & UV_RENAME) || (filename && strcmp(filename, w->name) != 0))
        return;
    w->rules_changed = true;
    watch_changed(w);
}

void arb_watch_set_catalog(arb_watch_t *w, const char *name)
{
    if (!w->path) return;   /* closed */
    const char *slash = name ? strrchr(name, '/') : NULL;
    char *copy = name ? strdup(slash ? slash + 1 : name) : NULL;   /* out of memory: seen as another file */
    char *dir = NULL;
    if (slash && asprintf(&dir, "%s/%.*s", w->path, (int)(slash - name), name) < 0) dir = NULL;
    free(w->catalog);
    free(w->catalog_dir);
    w->catalog = copy;
    w->catalog_dir = dir;
    watch_sub_arm(w);
}

void arb_watch_rearm(arb_watch_t *w)
{
    if (!w->path) return;   /* closed */
    uv_fs_event_stop(&w->folder);
    if (uv_fs_event_start(&w->folder, watch_on_folder, w->path, 0) < 0)
        arb_log_warn("cannot watch ruleset folder", "dir=%s", w->path);
    watch_sub_arm(w);
    if (!w->parent_path) return;
    uv_fs_event_stop(&w->parent);
    if (uv_fs_event_start(&w->parent, watch_on_parent, w->parent_path, 0) < 0)
        arb_log_warn("cannot watch the folder holding the ruleset", "dir=%s", w->parent_path);
}

/* parent = the path without its last component, made absolute. */
static void watch_split(arb_watch_t *w)
{
    char *copy = strdup(w->path);
    if (!copy) return;
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = '\0';
    char *slash = strrchr(copy, '/');
    const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
    if (slash) *slash = '\0';
    w->name = strdup(slash ? slash + 1 : copy);
    if (w->name) w->parent_path = realpath(parent, NULL);
    free(copy);
}

int arb_watch_start(arb_watch_t *w, uv_loop_t *loop, const char *path, arb_watch_cb on_change,
                    void *data)
{
    memset(w, 0, sizeof *w);
    w->on_change = on_change;
    w->data = data;
    w->path = strdup(path);
    if (!w->path) return UV_ENOMEM;
    watch_split(w);
    uv_timer_init(loop, &w->debounce);
    uv_fs_event_init(loop, &w->folder);
    uv_fs_event_init(loop, &w->parent);
    uv_fs_event_init(loop, &w->sub);
    w->debounce.data = w->folder.data = w->parent.data = w->sub.data = w;
    arb_watch_rearm(w);
    return 0;
}

static void close_once(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void arb_watch_close(arb_watch_t *w)
{
    if (!w->path) return;
    close_once((uv_handle_t *)&w->folder);
    close_once((uv_handle_t *)&w->parent);
    close_once((uv_handle_t *)&w->sub);
    close_once((uv_handle_t *)&w->debounce);
    free(w->path);
    free(w->parent_path);
    free(w->name);
    free(w->catalog);
    free(w->catalog_dir);
    w->path = w->parent_path = w->name = w->catalog = w->catalog_dir = NULL;
}
