/* Watching the ruleset folder for changes, on the main loop.
 *
 * An inotify watch follows an inode, not a name: once the folder is renamed
 * away, replaced, or reached through a `current -> vN` link that flips, a
 * watch on the old folder sees nothing more. So two watches are kept: the
 * folder the path names now, and the path's entry in its parent (a rename
 * or link flip shows there). arb_watch_rearm points the first at whatever
 * the path names now; the server calls it after every reload and on SIGHUP.
 *
 * A burst of changes is waited out (ARB_WATCH_QUIET_MS without a change)
 * but never longer than ARB_WATCH_MAX_DELAY_MS after its first change, so a
 * tool that never stops writing cannot postpone the reload forever.
 *
 * What changed is told apart: a rule file (*.lua), the folder itself (a
 * rename, a link flip), or only the ruleset's declared catalog file
 * (arb_watch_set_catalog), which the server reloads on its own
 * (catalog_reload.h). Other files are ignored.
 */
#ifndef ARB_WATCH_H
#define ARB_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define ARB_WATCH_QUIET_MS 200
#define ARB_WATCH_MAX_DELAY_MS 1000

typedef void (*arb_watch_cb)(void *data);

typedef struct arb_watch {
    uv_fs_event_t folder;      /* the folder the path names (since the last rearm) */
    uv_fs_event_t parent;      /* the path's entry in its parent */
    uv_timer_t debounce;
    char *path;                /* the watched path, as given; owned */
    char *parent_path;         /* its parent, absolute; owned, NULL if unknown */
    char *name;                /* its last component; owned */
    uint64_t first_change_ms;  /* first change of the burst being waited out */
    char *catalog;             /* the catalog file's last component; owned, NULL none */
    char *catalog_dir;         /* its subfolder, "<path>/<sub>"; owned, NULL: in the folder */
    uv_fs_event_t sub;         /* that subfolder, watched while catalog_dir is set */
    bool rules_changed;        /* in this burst: a rule file or the folder (the server clears) */
    bool catalog_changed;      /* in this burst: the catalog file (the server clears) */
    arb_watch_cb on_change;    /* called once a burst settled */
    void *data;
} arb_watch_t;

/* Start watching path on loop (the main loop's thread only); on_change(data)
 * runs after each settled burst. A path that cannot be watched is logged and
 * watched again at the next rearm. Returns 0, or a libuv error. */
int arb_watch_start(arb_watch_t *w, uv_loop_t *loop, const char *path, arb_watch_cb on_change,
                    void *data);

/* The catalog file the folder's ruleset declares (a path relative to the
 * folder, copied), NULL none: its changes are told apart from the rules'.
 * One in a subfolder is watched there too (a folder watch sees only its
 * own entries). */
void arb_watch_set_catalog(arb_watch_t *w, const char *name);

/* Watch what the path names now. */
void arb_watch_rearm(arb_watch_t *w);

/* Close the handles (they finish closing on the next loop turn) and free
 * the strings. */
void arb_watch_close(arb_watch_t *w);

#endif
