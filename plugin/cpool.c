/* libferry: a transfer's crypto pool. Sealing and opening chunks is the
 * one part of an end's work that splits by chunk: each chunk is sealed
 * under its own nonce, independent of the others. The pool has n-1
 * threads of its own, each with an AEAD context of its own (EVP contexts
 * are not shared between threads), and the calling thread takes a share.
 * A batch is fork-join: cpool_run() hands out the jobs and returns when
 * every one is done, so what the data half does before and after (the
 * chain of tags, the frames, the sink) stays on its thread and in number
 * order. A job touches only its own chunk. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "internal.h"

struct cpool {
    unsigned n;         /* threads in all, the caller's included */
    GThread **th;       /* n - 1 */
    struct aead **aead; /* one per thread of the pool */
    GMutex lock;
    GCond go, idle;
    /* the batch, under lock except the job counter */
    struct cjob *jobs;
    size_t njobs;
    gint next; /* next job to take (atomic) */
    const char *sid;
    int open;      /* open (else seal) */
    unsigned gen;  /* batch number */
    int running;   /* a batch is open to the pool's threads */
    unsigned busy; /* the pool's threads inside the batch */
    int quit;
};

struct cthread {
    struct cpool *cp;
    unsigned i;
};

static void job_run(struct cpool *cp, struct aead *a, struct cjob *j)
{
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    size_t adl;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, j->num, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, j->num, cp->sid, ad);
    if (!cp->open) {
        j->rc = aead_seal(a, nonce, ad, adl, j->p, j->len, j->p);
        return;
    }
    /* A fan-out slot's digest element is of the sealed body: before it is
     * opened in place. */
    if (j->elem != NULL &&
        ferry_sealed_element(j->p, j->len, j->elem) != FERRY_OK) {
        j->rc = FERRY_ERR_CRYPTO;
        return;
    }
    j->rc = aead_open(a, nonce, ad, adl, j->p, j->len, j->p);
}

/* Takes jobs until none is left. */
static void take_jobs(struct cpool *cp, struct aead *a)
{
    gint i;

    while ((i = g_atomic_int_add(&cp->next, 1)) >= 0 && (size_t)i < cp->njobs)
        job_run(cp, a, &cp->jobs[i]);
}

static gpointer cthread_main(gpointer p)
{
    struct cthread *ct = p;
    struct cpool *cp = ct->cp;
    struct aead *a = cp->aead[ct->i];
    unsigned seen = 0;

    g_free(ct);
    g_mutex_lock(&cp->lock);
    for (;;) {
        while (!cp->quit && !(cp->running && cp->gen != seen))
            g_cond_wait(&cp->go, &cp->lock);
        if (cp->quit)
            break;
        seen = cp->gen;
        cp->busy++;
        g_mutex_unlock(&cp->lock);
        take_jobs(cp, a);
        g_mutex_lock(&cp->lock);
        if (--cp->busy == 0)
            g_cond_signal(&cp->idle);
    }
    g_mutex_unlock(&cp->lock);
    return NULL;
}

/**
 * A pool of n threads in all for one key of a cipher (enum ferry_cipher):
 * n - 1 threads are made here.
 * @return the pool, or NULL when n < 2 or a thread or context cannot be
 * made (the caller then seals and opens alone). The caller wipes key.
 */
struct cpool *cpool_new(unsigned n, int cipher, const uint8_t key[32])
{
    struct cpool *cp;
    struct cthread *ct;
    unsigned i;

    if (n < 2)
        return NULL;
    cp = g_new0(struct cpool, 1);
    g_mutex_init(&cp->lock);
    g_cond_init(&cp->go);
    g_cond_init(&cp->idle);
    cp->n = n;
    cp->th = g_new0(GThread *, n - 1);
    cp->aead = g_new0(struct aead *, n - 1);
    for (i = 0; i < n - 1; i++) {
        if ((cp->aead[i] = aead_new(cipher, key)) == NULL)
            goto fail;
        ct = g_new(struct cthread, 1);
        ct->cp = cp;
        ct->i = i;
        if ((cp->th[i] = g_thread_try_new("ferry-crypto", cthread_main, ct,
                                          NULL)) == NULL) {
            g_free(ct);
            goto fail;
        }
    }
    return cp;
fail:
    cpool_free(cp);
    return NULL;
}

void cpool_free(struct cpool *cp)
{
    unsigned i;

    if (cp == NULL)
        return;
    g_mutex_lock(&cp->lock);
    cp->quit = 1;
    g_cond_broadcast(&cp->go);
    g_mutex_unlock(&cp->lock);
    for (i = 0; i < cp->n - 1; i++)
        if (cp->th[i] != NULL)
            g_thread_join(cp->th[i]);
    for (i = 0; i < cp->n - 1; i++)
        aead_free(cp->aead[i]);
    g_free(cp->th);
    g_free(cp->aead);
    g_cond_clear(&cp->go);
    g_cond_clear(&cp->idle);
    g_mutex_clear(&cp->lock);
    g_free(cp);
}

unsigned cpool_threads(const struct cpool *cp)
{
    return cp == NULL ? 1 : cp->n;
}

void cpool_run(struct cpool *cp, struct aead *mine, const char *sid, int open,
               struct cjob *jobs, size_t njobs)
{
    g_mutex_lock(&cp->lock);
    cp->jobs = jobs;
    cp->njobs = njobs;
    cp->sid = sid;
    cp->open = open;
    g_atomic_int_set(&cp->next, 0);
    if (njobs > 1) {
        cp->gen++;
        cp->running = 1;
        g_cond_broadcast(&cp->go);
    }
    g_mutex_unlock(&cp->lock);
    take_jobs(cp, mine);
    /* Every job is taken: wait for those the pool's threads took. A
     * thread that wakes after the batch is closed does not enter it. */
    g_mutex_lock(&cp->lock);
    while (cp->busy > 0)
        g_cond_wait(&cp->idle, &cp->lock);
    cp->running = 0;
    cp->jobs = NULL;
    cp->njobs = 0;
    g_mutex_unlock(&cp->lock);
}
