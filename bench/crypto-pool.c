/* The crypto part of each end alone: seal, then open, MB of chunks in
 * place through libferry's crypto pool (plugin/cpool.c) in batches as the
 * data half makes them, with 1 thread (no pool: aead_seal / aead_open in
 * a loop, the one-thread path) and with more. Prints, per thread count,
 * wall-clock MB/s and process CPU seconds per GiB (all threads) for
 * sealing and for opening. No sockets, no files: what the pool can give
 * where a core is free.
 *
 *   bench/crypto-pool [--mb N] [--chunk BYTES] [--batch N]
 *                     [--cipher aes-256-gcm|chacha20-poly1305] [THREADS...]
 *
 * defaults: 1024 MiB, 262144-byte chunks, batches of 4 (a receiver's
 * 1 MiB read of 256 KiB chunks; the sender's is 2 x threads), threads 1 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "crypto.h"
#include "err.h"
#include "internal.h"

#define BUF_MB 64

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void run_alone(struct aead *a, const char *sid, int open,
                      struct cjob *jobs, size_t n)
{
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    size_t i, adl;

    for (i = 0; i < n; i++) {
        ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, jobs[i].num, nonce);
        adl = ferry_ad(FERRY_KIND_DATA, jobs[i].num, sid, ad);
        jobs[i].rc = open ? aead_open(a, nonce, ad, adl, jobs[i].p, jobs[i].len,
                                      jobs[i].p)
                          : aead_seal(a, nonce, ad, adl, jobs[i].p, jobs[i].len,
                                      jobs[i].p);
    }
}

int main(int argc, char **argv)
{
    static const char sid[] = "bench-crypto-pool";
    uint64_t mb = 1024, total, done, num = 0;
    size_t chunk = 262144, batch = 4, per, nchunks, i, k, slot;
    unsigned threads[8] = {1, 2}, nthreads = 2, ti, given_t[8], given = 0;
    uint8_t key[32], *buf;
    struct cjob jobs[CPOOL_BATCH_MAX];
    int a, ok = 1, cipher = FERRY_CIPHER_AES256GCM;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--mb") == 0 && a + 1 < argc)
            mb = strtoull(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--chunk") == 0 && a + 1 < argc)
            chunk = strtoul(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--batch") == 0 && a + 1 < argc)
            batch = strtoul(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--cipher") == 0 && a + 1 < argc) {
            a++;
            cipher = ferry_cipher_from_name(argv[a], strlen(argv[a]));
        } else if (given < 8)
            given_t[given++] = (unsigned)atoi(argv[a]);
    }
    if (given > 0) {
        memcpy(threads, given_t, sizeof(threads));
        nthreads = given;
    }
    if (chunk < 1024 || batch < 1 || batch > CPOOL_BATCH_MAX || mb == 0 ||
        cipher < 0) {
        fprintf(stderr,
                "usage: crypto-pool [--mb N] [--chunk BYTES] "
                "[--batch 1..%d] [--cipher aes-256-gcm|chacha20-poly1305] "
                "[THREADS...]\n",
                CPOOL_BATCH_MAX);
        return 64;
    }
    per = chunk + 16; /* room for the tag */
    nchunks = (size_t)BUF_MB * 1048576 / chunk;
    buf = malloc(nchunks * per);
    if (buf == NULL)
        return 1;
    for (i = 0; i < nchunks * per; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    ferry_random(key, sizeof(key));
    total = mb * 1048576 / chunk; /* chunks to seal, and to open */
    for (ti = 0; ti < nthreads; ti++) {
        unsigned n = threads[ti] ? threads[ti] : 1;
        struct cpool *cp = cpool_new(n, cipher, key);
        struct aead *mine = aead_new(cipher, key);
        double w[2] = {0, 0}, c[2] = {0, 0};
        int open;

        if (mine == NULL || (n > 1 && cp == NULL)) {
            fprintf(stderr, "no pool of %u threads\n", n);
            return 1;
        }
        for (done = 0; done < total; done += nchunks) {
            for (open = 0; open < 2; open++) {
                gint64 t0 = g_get_monotonic_time();
                double c0 = cpu_s();
                for (i = 0; i < nchunks; i += k) {
                    for (k = 0; k < batch && i + k < nchunks; k++) {
                        slot = i + k;
                        jobs[k].num = num + slot;
                        jobs[k].p = buf + slot * per;
                        jobs[k].len = open ? per : chunk;
                        jobs[k].elem = NULL;
                    }
                    if (cp != NULL)
                        cpool_run(cp, mine, sid, open, jobs, k);
                    else
                        run_alone(mine, sid, open, jobs, k);
                    for (slot = 0; slot < k; slot++)
                        ok &= jobs[slot].rc == FERRY_OK;
                }
                w[open] += (g_get_monotonic_time() - t0) / 1e6;
                c[open] += cpu_s() - c0;
            }
            num += nchunks;
        }
        printf(
            "%s, threads %u, %llu MiB in %zu-byte chunks, batches of %zu: "
            "seal %.0f MB/s %.2f CPU s/GiB; open %.0f MB/s %.2f CPU "
            "s/GiB\n",
            ferry_cipher_name(cipher), n,
            (unsigned long long)(total * chunk / 1048576), chunk, batch,
            total * chunk / w[0] / 1e6, c[0] / (total * chunk / 1073741824.0),
            total * chunk / w[1] / 1e6, c[1] / (total * chunk / 1073741824.0));
        cpool_free(cp);
        aead_free(mine);
    }
    ferry_wipe(key, sizeof(key));
    free(buf);
    if (!ok)
        fprintf(stderr, "a chunk did not seal or open\n");
    return ok ? 0 : 1;
}
