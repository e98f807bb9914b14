/* Per-thread, 64-byte aligned pack buffers that are allocated once and grown.
 *
 * A GEMM call on the hot path (an MLP layer, every batch) must not pay for malloc and
 * fresh page faults, so each thread keeps its buffers between calls. On POSIX systems a
 * thread-specific key frees them when the thread exits; elsewhere they live as long as
 * the thread-local storage (a few MiB per thread that ever ran a large GEMM).
 */
#include <stdlib.h>

#include "gemm_internal.h"

#define N_SLOTS 7 /* 5, 6: the bfloat16 GEMM's (src_c/bf16_gemm.c) */
#define ALIGN 64

typedef struct {
    void *ptr[N_SLOTS];
    size_t size[N_SLOTS];
} scratch_set;

static void *aligned_alloc64(size_t bytes)
{
#if defined(_WIN32)
    return _aligned_malloc(bytes, ALIGN);
#else
    void *p = NULL;
    return posix_memalign(&p, ALIGN, bytes) == 0 ? p : NULL;
#endif
}

static void aligned_free64(void *p)
{
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

#if defined(_WIN32)
static __declspec(thread) scratch_set tls_set;

static scratch_set *thread_set(void) { return &tls_set; }
#else
#include <pthread.h>

static pthread_key_t set_key;
static pthread_once_t set_once = PTHREAD_ONCE_INIT;

static void free_set(void *arg)
{
    scratch_set *s = (scratch_set *)arg;
    for (int i = 0; i < N_SLOTS; i++)
        aligned_free64(s->ptr[i]);
    free(s);
}

static void make_key(void) { pthread_key_create(&set_key, free_set); }

static scratch_set *thread_set(void)
{
    pthread_once(&set_once, make_key);
    scratch_set *s = (scratch_set *)pthread_getspecific(set_key);
    if (s == NULL) {
        s = (scratch_set *)calloc(1, sizeof(scratch_set));
        if (s == NULL)
            return NULL;
        pthread_setspecific(set_key, s);
    }
    return s;
}
#endif

/* Tests make the next requests fail, to see a failed allocation reported. */
static volatile int fail_requests = 0;

void fnn_gemm_scratch_fail_next(int n) { fail_requests = n; }

void *fnn_gemm_scratch(int slot, size_t bytes)
{
    if (fail_requests > 0) {
        fail_requests--;
        return NULL;
    }
    scratch_set *s = thread_set();
    if (s == NULL)
        return NULL;
    if (s->size[slot] < bytes) {
        /* grow by 1/4 more than asked so slowly growing shapes do not realloc each call */
        size_t want = bytes + bytes / 4 + ALIGN;
        void *p = aligned_alloc64(want);
        if (p == NULL)
            return NULL;
        aligned_free64(s->ptr[slot]);
        s->ptr[slot] = p;
        s->size[slot] = want;
    }
    return s->ptr[slot];
}

/* Set by a GEMM whose packing buffers could not be allocated (any thread; only ever set
 * to 1, so the race is harmless), read and cleared by the Python boundary, which raises
 * MemoryError: such a product is not computed at all rather than computed another way. */
static volatile int alloc_failed = 0;

void fnn_gemm_note_alloc_failure(void) { alloc_failed = 1; }

int fnn_gemm_take_alloc_failure(void)
{
    int failed = alloc_failed;
    alloc_failed = 0;
    return failed;
}
