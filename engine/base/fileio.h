/* The one whole-file reader (ARCHITECTURE.md rule 5): rule files, test
 * files and the CLI's context files are written by people and tools we do
 * not control, and a name may be a FIFO (an open would block forever), a
 * device (a link to /dev/zero never ends), a sparse file of terabytes or a
 * directory. The reader opens the name with O_PATH (no data read, no device
 * touched), refuses whatever is not a regular file before reading a byte,
 * reopens the file it checked, and stops past a bound even when the file
 * grows while read. Base layer: includes nothing of ours.
 */
#ifndef ARB_BASE_FILEIO_H
#define ARB_BASE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

/* Read the regular file `name`, relative to dirfd (AT_FDCWD: the working
 * folder, or an absolute path), at most max bytes. beneath: resolve name
 * inside dirfd only, following links only while they stay inside it (on a
 * kernel without openat2, no link at all). Returns 0 with *text (malloc'd,
 * NUL-terminated, caller frees) and *len; 1 when name is a directory
 * (nothing read); -1 with a reason a person can act on in err ("is a FIFO,
 * not a regular file (refused)"). Never blocks on a FIFO or device. */
int arb_file_read(int dirfd, const char *name, bool beneath, size_t max, char **text,
                  size_t *len, char *err, size_t errlen);

/* Read the open descriptor fd (a pipe, a terminal: stdin) to its end, at
 * most max bytes. Same results as arb_file_read but 1. */
int arb_fd_read(int fd, size_t max, char **text, size_t *len, char *err, size_t errlen);

#endif
