/* The smoke driver of `make check`: a main() for a fuzz target built
 * without libFuzzer (any compiler). It replays every file of the target's
 * seed corpus, tests/fuzz/corpus/NAME/ (or the files and directories
 * given), whole and cut at up to 64 points, so every seed and its
 * truncations pass through the code under test on every check. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME='\"target\"'"
#endif

/* Targets without an initializer get this one. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static size_t runs;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long len;
    size_t n, cut, step;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "smoke %s: %s: %s\n", FUZZ_NAME, path,
                strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    /* malloc'd to the exact size, so ASan sees any read past the end */
    buf = malloc(len > 0 ? (size_t)len : 1);
    n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    runs++;
    step = n / 64 + 1;
    for (cut = 0; cut < n; cut += step) {
        uint8_t *p = malloc(cut > 0 ? cut : 1);
        memcpy(p, buf, cut);
        LLVMFuzzerTestOneInput(p, cut);
        free(p);
        runs++;
    }
    free(buf);
    return 0;
}

static int replay(const char *path, size_t *files)
{
    struct stat st;
    struct dirent **ents;
    int n, i, rc = 0;
    char *sub;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "smoke %s: %s: %s\n", FUZZ_NAME, path,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*files)++;
        return replay_file(path);
    }
    /* sorted, so a failure is reproducible by name and order */
    if ((n = scandir(path, &ents, NULL, alphasort)) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            sub = malloc(strlen(path) + strlen(ents[i]->d_name) + 2);
            sprintf(sub, "%s/%s", path, ents[i]->d_name);
            if (replay(sub, files) != 0)
                rc = -1;
            free(sub);
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int main(int argc, char **argv)
{
    const char *top = getenv("top_srcdir");
    size_t files = 0;
    char *dflt;
    int i, rc = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (i = 1; i < argc; i++)
            if (replay(argv[i], &files) != 0)
                rc = 1;
    } else {
        dflt = malloc(strlen(top ? top : ".") + 64);
        sprintf(dflt, "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_NAME);
        if (replay(dflt, &files) != 0)
            rc = 1;
        free(dflt);
    }
    printf("smoke %s: %zu files, %zu runs%s\n", FUZZ_NAME, files, runs,
           rc ? ", unreadable input" : "");
    return files == 0 ? 1 : rc;
}
