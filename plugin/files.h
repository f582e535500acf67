/* The receiver's files: X.part while the data arrives, X.ferry (the resume
 * state) beside it, X once verified. Everything is created with O_EXCL and
 * O_NOFOLLOW under one directory fd, so a hostile offer can neither replace
 * nor delete a file Ferry did not create, nor write through a symlink.
 * Internal to libferry. */
#ifndef FERRY_FILES_H
#define FERRY_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rfile;

/* Opens the receiver's file for `name` in `dir`, or, when a state file there
 * names this sid, size, chunk and bare JID, reopens it: *resume_from is then
 * the first chunk still missing (else 0). Taken names move on to "X (n).ext".
 * FERRY_OK and *out (free with rfile_free); else FERRY_ERR_BAD_VALUE or
 * FERRY_ERR_IO with *why a static token: "bad-name", "bad-value", "dir",
 * "name-taken" or "io". */
int rfile_open(const char *dir, const char *name, const char *sid,
               const char *peer, uint64_t size, uint32_t chunk,
               struct rfile **out, uint64_t *resume_from, const char **why);
/* Appends all of p. FERRY_OK, FERRY_ERR_TOO_LARGE (past the offered size;
 * nothing written) or FERRY_ERR_IO. */
int rfile_write(struct rfile *f, const void *p, size_t len);
/* pread(2) on the .part, to hash the resumed prefix again: the count (short
 * at the end of the file), or -1 and errno (EBADF once closed). */
ssize_t rfile_pread(struct rfile *f, void *p, size_t len, uint64_t off);
/* Records that chunks below `next` are written, for a later resume. Best
 * effort: FERRY_OK or FERRY_ERR_IO (a foreign X.ferry.tmp is left alone). */
int rfile_save_state(struct rfile *f, uint64_t next);
/* fsync, then renames X.part to X without replacing anything (to the next
 * free "X (n).ext" if X appeared), and drops the state file. FERRY_OK or
 * FERRY_ERR_IO (the .part and state are then kept). */
int rfile_commit(struct rfile *f);
/* Closes the file; keep == 0 also removes our .part and state file. Only
 * rfile_path, rfile_name and rfile_free may follow. */
void rfile_abort(struct rfile *f, int keep);
/* "dir/name" as chosen (after rfile_commit, as committed); valid until
 * rfile_free or the next rfile_commit. */
const char *rfile_path(const struct rfile *f);
/* The chosen file name alone; same lifetime as rfile_path. */
const char *rfile_name(const struct rfile *f);
/* Accepts NULL; closes without deleting anything. */
void rfile_free(struct rfile *f);

#endif
