/* The `catalog "products.jsonl"` declaration: checked while the ruleset
 * compiles (at most one, a path inside the folder, a file that exists),
 * loaded once the protected compile is over (a large catalog is C work the
 * Lua budgets should not be charged for), and read again on its own for a
 * catalog-only reload. It keeps the loader's rule: a ruleset loads whole or
 * not at all, so a bad catalog line fails the load with its file:line.
 *
 * The path is relative to the folder of the file that declares it: a
 * challenger folder declaring its own catalog reads its own file, and one
 * that keeps the champion's declaring file keeps the champion's catalog.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ruleset/catalog.h"
#include "engine/ruleset/payload.h"
#include "engine/ruleset/recommend.h"
#include "engine/ruleset/rawread.h"

/* Whether one of path's '/'-separated parts is "..". */
static bool has_dotdot(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') return true;
        p += n;
        if (*p) p++;
    }
    return false;
}

void arb__compile_catalog(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "file", NULL };
    lua_State *L = cc->L;
    spec_check_fields(cc, spec, fields);
    const char *file = spec_field_string(cc, spec, "file", true, true);
    if (!file) return;
    arb_raw_field(L, spec, "file");  /* read again for its length: a NUL would cut it */
    size_t len = lua_rawlen(L, -1);
    lua_pop(L, 1);
    if (cc->catalog_file) {
        spec_problem(cc, "a second catalog (the first is declared at %s:%d): a ruleset has at most one",
                     cc->catalog_file, cc->catalog_line);
        return;
    }
    if (len == 0 || strlen(file) != len) {
        spec_problem(cc, "the file name must be a non-empty string without NUL bytes");
        return;
    }
    if (file[0] == '/' || has_dotdot(file)) {
        spec_problem(cc, "'%s': the catalog's path is relative to the ruleset folder and stays in it "
                     "(no leading '/', no '..')", file);
        return;
    }
    /* "./products.jsonl" names products.jsonl: normalised, so that the
     * folder watch, which sees entries by name, knows it when it changes. */
    while (file[0] == '.' && file[1] == '/') {
        file += 2;
        while (*file == '/') file++;
    }
    cc->catalog_file = cc->d->file;
    cc->catalog_line = cc->d->line;
    /* The declaring file's folder: its path is "<folder>/<name>.lua". */
    const char *slash = strrchr(cc->d->file, '/');
    int dirlen = slash ? (int)(slash - cc->d->file) : 0;
    char *path = NULL;
    if ((slash ? asprintf(&path, "%.*s/%s", dirlen, cc->d->file, file) : asprintf(&path, "%s", file)) < 0)
        arb__compile_oom(L);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        spec_problem(cc, "catalog file '%s' %s (looked for %s)", file,
                     stat(path, &st) != 0 ? "does not exist" : "is not a regular file", path);
        free(path);
        return;
    }
    char *declared = strdup(file);
    if (!declared) {
        free(path);
        arb__compile_oom(L);
    }
    free(cc->rs->catalog_file);
    cc->rs->catalog_file = declared;
    cc->catalog_path = path;
}

void arb__catalog_load(compiler_t *cc, bool load)
{
    /* A challenger starts with its champion's catalog: kept when it
     * declares the same file (the champion read it a moment ago), else
     * dropped. */
    arb_catalog_t *held = cc->rs->catalog;
    cc->rs->catalog = NULL;
    if (load && cc->catalog_path && held && strcmp(held->path, cc->catalog_path) == 0)
        cc->rs->catalog = arb_catalog_retain(held);
    else if (load && cc->catalog_path)
        cc->rs->catalog = arb_catalog_load(cc->catalog_path, NULL, cc->problems);
    arb_catalog_release(held);
    free(cc->catalog_path);
    cc->catalog_path = NULL;
}

arb_catalog_t *arb_ruleset_catalog_reload(const arb_ruleset_t *rs, arb_problems_t *problems)
{
    if (!rs->catalog_file || !rs->catalog) {
        arb_problems_add(problems, "%s: this ruleset declares no catalog", rs->dir);
        return NULL;
    }
    /* The file alone may be right and still wrong for these rules: a
     * relation a recommending action follows, or a field a payload fills,
     * that no product has any more. The same checks as a full load. */
    size_t before = problems->total;
    arb_catalog_t *cat = arb_catalog_load(rs->catalog->path, NULL, problems);
    if (cat) {
        arb_recommend_check(rs, cat, problems);
        arb_payload_check(rs, cat, problems);
    }
    if (problems->total > before) {
        arb_catalog_release(cat);
        return NULL;
    }
    return cat;
}

bool arb_ruleset_catalog(const arb_ruleset_t *rs, arb_catalog_view_t *out)
{
    const arb_catalog_t *c = rs->catalog;
    if (!c) return false;
    *out = (arb_catalog_view_t){ .file = rs->catalog_file, .products = c->n_products,
                                 .checksum = c->checksum, .loaded_at = c->loaded_at,
                                 .bytes = c->bytes };
    return true;
}
