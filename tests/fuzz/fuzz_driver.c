/* A stand-in for libFuzzer when the build has none: replays every file of a
 * corpus directory through LLVMFuzzerTestOneInput, then feeds it random
 * mutations of those files (bit flips, byte changes, inserted and deleted
 * runs, splices of two files, truncations, random bytes) until the given
 * number of seconds has passed.
 *
 *   fuzz_resp_replay SECONDS CORPUS_DIR
 *
 * Prints how many inputs ran and the seed (FUZZ_SEED=n repeats a run). A
 * failed check aborts, which fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_LEN 4096

struct input {
    uint8_t *data;
    size_t   len;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_corpus(const char *dir, struct input **out, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    size_t cap = 16, n = 0;
    struct input *in = malloc(cap * sizeof(*in));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t *buf = malloc(FUZZ_MAX_LEN);
        size_t len = fread(buf, 1, FUZZ_MAX_LEN, f);
        fclose(f);
        if (n == cap) {
            cap *= 2;
            in = realloc(in, cap * sizeof(*in));
        }
        in[n].data = buf;
        in[n].len = len;
        n++;
    }
    closedir(d);
    *out = in;
    *count = n;
    return 0;
}

/* One random change of buf[0..*len) (capacity FUZZ_MAX_LEN). */
static void mutate(uint8_t *buf, size_t *len, const struct input *corpus, size_t ncorpus)
{
    static const char *tokens[] = { "\r\n", "*", "$", "\"", "'", "\\x", "\\", "-1", "0",
                                    "*1\r\n", "$3\r\n", "\n", " ", "9999999999", "\0" };
    size_t n = *len;
    switch (rnd_below(9)) {
    case 0: /* flip a bit */
        if (n)
            buf[rnd_below(n)] ^= (uint8_t)(1u << rnd_below(8));
        break;
    case 1: /* set a byte */
        if (n)
            buf[rnd_below(n)] = (uint8_t)rnd();
        break;
    case 2: { /* insert random bytes */
        size_t k = 1 + rnd_below(8), at = rnd_below(n + 1);
        if (n + k > FUZZ_MAX_LEN)
            break;
        memmove(buf + at + k, buf + at, n - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = (uint8_t)rnd();
        n += k;
        break;
    }
    case 3: { /* delete a run */
        if (!n)
            break;
        size_t at = rnd_below(n), k = 1 + rnd_below(n - at);
        memmove(buf + at, buf + at + k, n - at - k);
        n -= k;
        break;
    }
    case 4: /* truncate */
        n = rnd_below(n + 1);
        break;
    case 5: { /* splice: our prefix + another file's suffix */
        const struct input *o = &corpus[rnd_below(ncorpus)];
        size_t at = rnd_below(n + 1), from = rnd_below(o->len + 1);
        size_t k = o->len - from;
        if (at + k > FUZZ_MAX_LEN)
            k = FUZZ_MAX_LEN - at;
        memcpy(buf + at, o->data + from, k);
        n = at + k;
        break;
    }
    case 6: { /* insert a protocol token */
        const char *t = tokens[rnd_below(sizeof(tokens) / sizeof(tokens[0]))];
        size_t k = strlen(t) ? strlen(t) : 1, at = rnd_below(n + 1);
        if (n + k > FUZZ_MAX_LEN)
            break;
        memmove(buf + at + k, buf + at, n - at);
        memcpy(buf + at, t, k);
        n += k;
        break;
    }
    case 7: { /* duplicate a run (pipelines of the same command) */
        if (!n)
            break;
        size_t at = rnd_below(n), k = 1 + rnd_below(n - at);
        if (n + k > FUZZ_MAX_LEN)
            break;
        /* after the move, [at, at+k) still holds the run: now it is there twice */
        memmove(buf + at + k, buf + at, n - at);
        n += k;
        break;
    }
    default: /* all random */
        n = rnd_below(256);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rnd();
        break;
    }
    *len = n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SECONDS CORPUS_DIR\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[1]);
    struct input *corpus;
    size_t ncorpus;
    if (load_corpus(argv[2], &corpus, &ncorpus) != 0)
        return 1;

    const char *seed_env = getenv("FUZZ_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    rng_state = seed ? seed : 1;

    unsigned long long runs = 0;
    for (size_t i = 0; i < ncorpus; i++) {
        LLVMFuzzerTestOneInput(corpus[i].data, corpus[i].len);
        runs++;
    }

    uint8_t *buf = malloc(FUZZ_MAX_LEN);
    double end = now_s() + seconds;
    while (ncorpus && now_s() < end) {
        for (int batch = 0; batch < 64; batch++) {
            const struct input *base = &corpus[rnd_below(ncorpus)];
            size_t len = base->len;
            memcpy(buf, base->data, len);
            size_t rounds = 1 + rnd_below(4);
            for (size_t r = 0; r < rounds; r++)
                mutate(buf, &len, corpus, ncorpus);
            /* copy to an exact-size block so sanitizers see overreads */
            uint8_t *exact = malloc(len ? len : 1);
            memcpy(exact, buf, len);
            LLVMFuzzerTestOneInput(exact, len);
            free(exact);
            runs++;
        }
    }
    printf("fuzz_resp: %llu inputs (%zu corpus files, seed %llu)\n", runs, ncorpus,
           (unsigned long long)seed);
    free(buf);
    for (size_t i = 0; i < ncorpus; i++)
        free(corpus[i].data);
    free(corpus);
    return 0;
}
