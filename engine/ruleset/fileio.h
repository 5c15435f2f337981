/* Reading a ruleset folder: each file through the one whole-file reader
 * (base/fileio.h), and one consistent copy of a folder per load.
 *
 * A rule folder is written by people and tools we do not control: a file
 * named x.lua may be a FIFO (an open would block forever), a device (a link
 * to /dev/zero never ends), a sparse file of terabytes, a directory, or a
 * link to anywhere on the machine. Every name is opened relative to the
 * folder's descriptor without following links out of it, whatever is not a
 * regular file is refused before a byte is read, and what one file and one
 * folder may hold is bounded; a directory named x.lua is not a rule file.
 *
 * A load (and its tests, and the copy for every worker) must read one
 * version of the folder even while it is swapped (rename, `current -> vN`
 * link flip) or edited: arb_folder_snapshot reads the whole folder once,
 * through one descriptor, and arb_folder_pin makes the listing functions of
 * the calling thread answer from that copy.
 */
#ifndef ARB_FILEIO_H
#define ARB_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/ruleset/ruleset.h"

/* Bounds on what a folder may hold. */
#define ARB_RULE_FILE_MAX ((size_t)32 << 20)     /* bytes in one file */
#define ARB_RULE_FOLDER_MAX ((size_t)256 << 20)  /* bytes in all files of a folder */
#define ARB_RULE_FILES_MAX 10000                 /* *.lua files in a folder */

/* Read the regular file `name` of the folder open as dirfd, at most max
 * bytes. Links are followed only while they stay inside the folder.
 * Returns 0 with *text (malloc'd, NUL-terminated, caller frees) and *len;
 * 1 when name is a directory (not a file: nothing read); -1 with a reason in
 * err. Never blocks on a FIFO or device. */
int arb_read_in_folder(int dirfd, const char *name, size_t max, char **text, size_t *len,
                       char *err, size_t errlen);

/* A whole folder (rule files and test files) read once. */
typedef struct arb_folder_snapshot arb_folder_snapshot_t;

/* Read every *.lua file of dir (problems of unreadable files are kept and
 * reported by each listing). NULL only when out of memory. */
arb_folder_snapshot_t *arb_folder_snapshot(const char *dir);
void arb_folder_snapshot_free(arb_folder_snapshot_t *snap);

/* The folder the snapshot read after following links (e.g. ".../v2" for a
 * `current -> v2` link), for logs; "?" when unknown. Owned by snap. */
const char *arb_folder_snapshot_resolved(const arb_folder_snapshot_t *snap);

/* From now on, on the calling thread, arb__rule_files_list(dir, ...) for the
 * snapshot's dir answers from snap (borrowed: keep it alive until unpinned);
 * NULL unpins. */
void arb_folder_pin(const arb_folder_snapshot_t *snap);

#endif
