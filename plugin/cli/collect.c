/* ferry CLI: the files a send names. A file is sent under its own name; a
 * folder is walked (sorted, symlinks skipped) and each file in it is sent
 * under its path from the folder's name on ("trip/day 1/a.jpg"), which
 * the receiver recreates below its --dir. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>

#include "cli.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *path, const char *name, GPtrArray *paths,
                GPtrArray *names, int depth)
{
    GPtrArray *entries;
    const char *e;
    GError *ge = NULL;
    GDir *d;
    guint i;
    int rc = 0;

    if (depth > 64) {
        err("cannot send %s: folders nested too deep", path);
        return EX_IO;
    }
    if ((d = g_dir_open(path, 0, &ge)) == NULL) {
        err("cannot send %s: %s", path, ge->message);
        g_error_free(ge);
        return EX_IO;
    }
    entries = g_ptr_array_new_with_free_func(g_free);
    while ((e = g_dir_read_name(d)) != NULL)
        g_ptr_array_add(entries, g_strdup(e));
    g_dir_close(d);
    g_ptr_array_sort(entries, by_name);
    for (i = 0; i < entries->len && rc == 0; i++) {
        char *p = g_build_filename(path, entries->pdata[i], NULL);
        char *n = g_strconcat(name, "/", (char *)entries->pdata[i], NULL);
        struct stat sb;

        if (lstat(p, &sb) != 0) {
            err("cannot send %s: %s", p, strerror(errno));
            rc = EX_IO;
        } else if (S_ISDIR(sb.st_mode))
            rc = walk(p, n, paths, names, depth + 1);
        else if (S_ISREG(sb.st_mode)) {
            g_ptr_array_add(paths, p);
            g_ptr_array_add(names, n);
            continue;
        } else
            say("skipping %s: not a regular file", p);
        g_free(p);
        g_free(n);
    }
    g_ptr_array_free(entries, TRUE);
    return rc;
}

int collect_files(char **args, int n, GPtrArray *paths, GPtrArray *names)
{
    struct stat sb;
    int i, rc;

    for (i = 0; i < n; i++) {
        const char *a = args[i];
        if (stat(a, &sb) != 0) {
            err("cannot send %s: %s", a, strerror(errno));
            return EX_IO;
        }
        if (S_ISDIR(sb.st_mode)) {
            char *abs = realpath(a, NULL);
            char *base = g_path_get_basename(abs ? abs : a);
            free(abs);
            rc = strcmp(base, "/") == 0 ? EX_IO
                                        : walk(a, base, paths, names, 0);
            if (strcmp(base, "/") == 0)
                err("cannot send the whole file system");
            g_free(base);
            if (rc != 0)
                return rc;
            continue;
        }
        if (!S_ISREG(sb.st_mode)) {
            err("cannot send %s: not a regular file or folder", a);
            return EX_IO;
        }
        g_ptr_array_add(paths, g_strdup(a));
        g_ptr_array_add(names, g_path_get_basename(a));
    }
    if (paths->len == 0) {
        err("nothing to send: the folders are empty");
        return EX_IO;
    }
    return 0;
}
