/* The receiver's files, safe against hostile offers. Every name is taken
 * relative to one directory fd and never through a symlink; X.part and
 * X.ferry.tmp are created with O_EXCL, and the final rename refuses to
 * replace. So Ferry removes or rewrites only what it made itself: a .part it
 * created, or one whose state file names this very session. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "err.h"
#include "files.h"
#include "state.h"

#define NAME_TRIES 1000 /* X, then "X (1)" up to "X (999)" */
/* Longest "stem.ext" that still fits NAME_MAX with " (999)" and ".ferry.tmp"
 * added; longer offered names lose the end of their stem. */
#define NAME_ROOM (NAME_MAX - 6 - 10)
/* A longer "extension" is just part of the name. */
#define EXT_MAX 32

struct rfile {
    int rf_dirfd;
    int rf_fd; /* the .part, -1 once closed */
    char *rf_dir;
    char *rf_stem, *rf_ext;            /* the offered name, split */
    unsigned rf_n;                     /* "X (n)" suffix, 0 for none */
    char *rf_name, *rf_path;           /* final name as chosen */
    char *rf_part, *rf_state, *rf_tmp; /* named after the name at open */
    struct ferry_state rf_st;          /* sid, size, chunk, peer */
    uint64_t rf_off;                   /* bytes in the .part */
    int rf_state_ours;                 /* rf_state holds our line */
    int rf_done;                       /* committed or aborted */
};

/* "photo.jpg" gives "photo" and ".jpg"; ".profile" and "README" have no
 * extension. An over-long stem is cut at a UTF-8 character boundary. */
static void split_name(const char *name, char **stem, char **ext)
{
    const char *dot = strrchr(name, '.');
    size_t n, e;

    if (dot == NULL || dot == name || strlen(dot) > EXT_MAX)
        dot = name + strlen(name);
    n = (size_t)(dot - name);
    e = strlen(dot);
    if (n + e > NAME_ROOM) {
        n = NAME_ROOM - e;
        while (n > 1 && ((unsigned char)name[n] & 0xc0) == 0x80)
            n--;
    }
    *stem = g_strndup(name, n);
    *ext = g_strdup(dot);
}

static void set_name(struct rfile *f, unsigned n)
{
    g_free(f->rf_name);
    g_free(f->rf_path);
    f->rf_n = n;
    if (n == 0)
        f->rf_name = g_strconcat(f->rf_stem, f->rf_ext, NULL);
    else
        f->rf_name = g_strdup_printf("%s (%u)%s", f->rf_stem, n, f->rf_ext);
    f->rf_path = g_build_filename(f->rf_dir, f->rf_name, NULL);
}

/* At open only: the .part and state keep this name through a commit. */
static void set_companions(struct rfile *f)
{
    g_free(f->rf_part);
    g_free(f->rf_state);
    g_free(f->rf_tmp);
    f->rf_part = g_strconcat(f->rf_name, ".part", NULL);
    f->rf_state = g_strconcat(f->rf_name, ".ferry", NULL);
    f->rf_tmp = g_strconcat(f->rf_name, ".ferry.tmp", NULL);
}

/* 1 when X, X.part, X.ferry and X.ferry.tmp are all absent (a dangling
 * symlink counts as present), 0 when one is there, -1 when stat fails. */
static int name_free(int dirfd, const char *name)
{
    static const char *const sfx[] = {"", ".part", ".ferry", ".ferry.tmp"};
    struct stat sb;
    size_t i;
    char *p;
    int r = 1;

    for (i = 0; i < G_N_ELEMENTS(sfx) && r == 1; i++) {
        p = g_strconcat(name, sfx[i], NULL);
        if (fstatat(dirfd, p, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            r = 0;
        else if (errno != ENOENT)
            r = -1;
        g_free(p);
    }
    return r;
}

/* An existing regular file, never reached through a symlink, and never a
 * FIFO or device (O_NONBLOCK in case one is swapped in after the check,
 * fstat after). -1 if there is none. */
static int open_regular(int dirfd, const char *name, int flags, struct stat *sb)
{
    int fd;

    if (fstatat(dirfd, name, sb, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(sb->st_mode))
        return -1;
    fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reopens X.part when X.ferry proves it is this session's own interrupted
 * transfer: same sid, size, chunk size and bare JID, X absent, and X.part a
 * plain file holding the chunks counted. 1 and *next when resumed, 0 when
 * not ours (start afresh under another name), -1 on an I/O error. */
static int try_resume(struct rfile *f, uint64_t *next)
{
    const struct ferry_state *me = &f->rf_st;
    char line[STATE_LINE_MAX + 1];
    struct ferry_state st;
    struct stat sb;
    uint64_t len;
    ssize_t n;
    int fd;

    /* A stream is never resumed (XEP "Resuming"). */
    if (me->size == FERRY_SIZE_STREAM ||
        fstatat(f->rf_dirfd, f->rf_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 ||
        (fd = open_regular(f->rf_dirfd, f->rf_state, O_RDONLY, &sb)) < 0)
        return 0;
    n = read(fd, line, sizeof(line));
    close(fd);
    if (n <= 0 || state_parse(line, (size_t)n, &st) != FERRY_OK ||
        strcmp(st.sid, me->sid) != 0 || st.size != me->size ||
        st.chunk != me->chunk || !ferry_jid_same_bare(st.peer, me->peer) ||
        st.next > me->size / me->chunk + (me->size % me->chunk != 0))
        return 0;
    /* The last chunk may be short. */
    len = st.next > me->size / me->chunk ? me->size : st.next * me->chunk;
    fd = open_regular(f->rf_dirfd, f->rf_part, O_RDWR, &sb);
    /* A second link would let the writes land in another file too. */
    if (fd >= 0 && (sb.st_nlink != 1 || (uint64_t)sb.st_size < len)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        return 0;
    /* Keep the counted prefix, drop what was never acknowledged. */
    if (ftruncate(fd, (off_t)len) < 0) {
        close(fd);
        return -1;
    }
    f->rf_fd = fd;
    f->rf_off = len;
    f->rf_state_ours = 1;
    *next = st.next;
    return 1;
}

/* Makes and enters the folders of a relative path ("a/b/c.jpg": a, then
 * b), each under the rules of a file name (no leading '.' or '-'); leaves
 * *name at the last component (in *keep when it had to be copied). */
static int enter_folders(struct rfile *f, const char **name, char **keep)
{
    const char *p = *name, *slash;
    GString *rel = g_string_new(NULL);
    int fd, r = -1;

    while ((slash = strchr(p, '/')) != NULL) {
        char *comp = g_strndup(p, (gsize)(slash - p));
        if (comp[0] == '.' || comp[0] == '-') {
            char *c = g_strconcat("_", comp, NULL);
            g_free(comp);
            comp = c;
        }
        if (mkdirat(f->rf_dirfd, comp, 0777) < 0 && errno != EEXIST) {
            g_free(comp);
            goto out;
        }
        fd = openat(f->rf_dirfd, comp,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        g_string_append_printf(rel, "/%s", comp);
        g_free(comp);
        if (fd < 0)
            goto out;
        close(f->rf_dirfd);
        f->rf_dirfd = fd;
        p = slash + 1;
    }
    {
        char *d = g_strconcat(f->rf_dir, rel->str, NULL);
        g_free(f->rf_dir);
        f->rf_dir = d;
    }
    *keep = g_strdup(p);
    *name = *keep;
    r = 0;
out:
    g_string_free(rel, TRUE);
    return r;
}

int rfile_open(const char *dir, const char *name, const char *sid,
               const char *peer, uint64_t size, uint32_t chunk,
               struct rfile **out, uint64_t *resume_from, const char **why)
{
    struct rfile *f = NULL;
    int r = FERRY_ERR_BAD_VALUE, got, e;
    char *safe = NULL;
    unsigned n;

    *out = NULL;
    *resume_from = 0;
    *why = "bad-name";
    if (name == NULL || !ferry_valid_name(name))
        goto out;
    *why = "bad-value";
    if (dir == NULL || !ferry_valid_sid(sid) || !ferry_valid_jid(peer) ||
        chunk == 0 || size > (uint64_t)INT64_MAX)
        goto out;
    f = g_new0(struct rfile, 1);
    f->rf_dirfd = f->rf_fd = -1;
    f->rf_dir = g_strdup(dir);
    /* Both fit: the validators bound their lengths. */
    g_strlcpy(f->rf_st.sid, sid, sizeof(f->rf_st.sid));
    g_strlcpy(f->rf_st.peer, peer, sizeof(f->rf_st.peer));
    f->rf_st.size = size;
    f->rf_st.chunk = chunk;
    r = FERRY_ERR_IO;
    *why = "dir";
    if ((f->rf_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        goto out;
    /* A relative path: its folders are made (or entered) one by one below
     * dir, never through a symlink; the last component is the file. */
    if (strchr(name, '/') != NULL) {
        *why = "subdir";
        if (enter_folders(f, &name, &safe) < 0)
            goto out;
    }
    /* A received file is never hidden (".profile", ".bashrc" in a home
     * directory) and never reads as an option ("-rf"): such names get a
     * leading '_'. */
    if (name[0] == '.' || name[0] == '-') {
        char *u = g_strconcat("_", name, NULL);
        g_free(safe);
        safe = u;
        name = safe;
    }
    split_name(name, &f->rf_stem, &f->rf_ext);
    /* A received file never takes a name that is another one's .part or
     * state file: a sender could otherwise deliver "X.part" and "X.ferry"
     * first and have a later offer of X "resume" into them. */
    if (g_str_has_suffix(name, ".part") || g_str_has_suffix(name, ".ferry") ||
        g_str_has_suffix(name, ".ferry.tmp")) {
        char *x = g_strconcat(f->rf_ext, "_", NULL);
        g_free(f->rf_ext);
        f->rf_ext = x;
    }
    *why = "io";
    /* Each candidate name is either our own interrupted transfer, or free
     * in all four forms, or passed over. */
    for (n = 0; n < NAME_TRIES && f->rf_fd < 0; n++) {
        set_name(f, n);
        set_companions(f);
        if ((got = try_resume(f, resume_from)) == 0 &&
            (got = name_free(f->rf_dirfd, f->rf_name)) == 1) {
            /* 0666 less the umask, as any file a program creates. */
            f->rf_fd = openat(
                f->rf_dirfd, f->rf_part,
                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
            /* EEXIST: it appeared since name_free; try the next name. */
            got = f->rf_fd >= 0 || errno == EEXIST ? 0 : -1;
        }
        if (got < 0)
            goto out;
    }
    if (f->rf_fd < 0) {
        *why = "name-taken";
        errno = EEXIST;
        goto out;
    }
    *why = NULL;
    *out = f;
    f = NULL;
    r = FERRY_OK;
out:
    e = errno;
    rfile_free(f);
    g_free(safe);
    errno = e;
    return r;
}

int rfile_write(struct rfile *f, const void *p, size_t len)
{
    const char *c = p;
    ssize_t n;

    if (f->rf_fd < 0 || f->rf_done)
        return FERRY_ERR_IO;
    /* The offered size is all the sender may fill the disk with. */
    if (len > f->rf_st.size - f->rf_off)
        return FERRY_ERR_TOO_LARGE;
    while (len > 0) {
        n = pwrite(f->rf_fd, c, len, (off_t)f->rf_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FERRY_ERR_IO;
        c += n;
        len -= (size_t)n;
        f->rf_off += (uint64_t)n;
    }
    return FERRY_OK;
}

ssize_t rfile_pread(struct rfile *f, void *p, size_t len, uint64_t off)
{
    if (f->rf_fd < 0 || off > (uint64_t)INT64_MAX) {
        errno = f->rf_fd < 0 ? EBADF : EINVAL;
        return -1;
    }
    return pread(f->rf_fd, p, len, (off_t)off);
}

/* renameat2(RENAME_NOREPLACE), or where the filesystem lacks it, a hard
 * link (which never replaces either) and an unlink: 0, or -1 and errno. */
static int rename_noreplace(int dirfd, const char *from, const char *to)
{
    int e;

    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(dirfd, from, dirfd, to, 0) < 0)
        return -1;
    if (unlinkat(dirfd, from, 0) < 0) {
        e = errno;
        (void)unlinkat(dirfd, to, 0); /* the link we just made */
        errno = e;
        return -1;
    }
    return 0;
}

int rfile_save_state(struct rfile *f, uint64_t next)
{
    const struct ferry_state *s = &f->rf_st;
    char line[STATE_LINE_MAX + 1];
    int n, fd, ok;

    if (f->rf_done)
        return FERRY_ERR_IO;
    n = snprintf(line, sizeof(line), "%s %llu %llu %llu %s\n", s->sid,
                 (unsigned long long)s->size, (unsigned long long)s->chunk,
                 (unsigned long long)next, s->peer);
    if (n < 0 || (size_t)n >= sizeof(line))
        return FERRY_ERR_IO;
    /* A .tmp already there is not ours: neither written nor removed. */
    fd = openat(f->rf_dirfd, f->rf_tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return FERRY_ERR_IO;
    /* No fsync: a state file lost in a crash only means starting over,
     * and a torn one does not parse. */
    ok = write(fd, line, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    /* Until our first line is in place, an X.ferry there is someone
     * else's: do not replace it. */
    if (ok && f->rf_state_ours)
        ok = renameat(f->rf_dirfd, f->rf_tmp, f->rf_dirfd, f->rf_state) == 0;
    else if (ok)
        ok = rename_noreplace(f->rf_dirfd, f->rf_tmp, f->rf_state) == 0;
    if (!ok) {
        (void)unlinkat(f->rf_dirfd, f->rf_tmp, 0);
        return FERRY_ERR_IO;
    }
    f->rf_state_ours = 1;
    return FERRY_OK;
}

int rfile_commit(struct rfile *f)
{
    unsigned n = f->rf_n, first = f->rf_n;
    int got = 1;

    if (f->rf_done || f->rf_fd < 0 || fsync(f->rf_fd) < 0)
        return FERRY_ERR_IO;
    while (rename_noreplace(f->rf_dirfd, f->rf_part, f->rf_name) < 0) {
        /* Someone took the name meanwhile: theirs stays, ours moves on. */
        if (errno != EEXIST)
            goto fail;
        do {
            if (++n >= NAME_TRIES)
                goto fail;
            set_name(f, n);
        } while ((got = name_free(f->rf_dirfd, f->rf_name)) == 0);
        if (got < 0)
            goto fail;
    }
    f->rf_done = 1;
    close(f->rf_fd);
    f->rf_fd = -1;
    if (f->rf_state_ours)
        (void)unlinkat(f->rf_dirfd, f->rf_state, 0);
    f->rf_state_ours = 0;
    (void)fsync(f->rf_dirfd); /* so that the rename survives a crash */
    return FERRY_OK;
fail:
    set_name(f, first);
    return FERRY_ERR_IO;
}

void rfile_abort(struct rfile *f, int keep)
{
    struct stat mine, there;

    if (f == NULL || f->rf_done)
        return;
    f->rf_done = 1;
    /* Remove X.part only if it is still the file we wrote. */
    if (!keep && fstat(f->rf_fd, &mine) == 0 &&
        fstatat(f->rf_dirfd, f->rf_part, &there, AT_SYMLINK_NOFOLLOW) == 0 &&
        mine.st_dev == there.st_dev && mine.st_ino == there.st_ino)
        (void)unlinkat(f->rf_dirfd, f->rf_part, 0);
    if (!keep && f->rf_state_ours)
        (void)unlinkat(f->rf_dirfd, f->rf_state, 0);
    close(f->rf_fd);
    f->rf_fd = -1;
}

const char *rfile_path(const struct rfile *f)
{
    return f->rf_path;
}

const char *rfile_name(const struct rfile *f)
{
    return f->rf_name;
}

void rfile_free(struct rfile *f)
{
    if (f == NULL)
        return;
    if (f->rf_fd >= 0)
        close(f->rf_fd);
    if (f->rf_dirfd >= 0)
        close(f->rf_dirfd);
    g_free(f->rf_dir);
    g_free(f->rf_stem);
    g_free(f->rf_ext);
    g_free(f->rf_name);
    g_free(f->rf_path);
    g_free(f->rf_part);
    g_free(f->rf_state);
    g_free(f->rf_tmp);
    g_free(f);
}
