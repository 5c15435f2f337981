/* The catalog row of the benchmark (tests/bench/README.md): how long a
 * catalog file takes to load and how much memory it holds a product
 * (arb_catalog_t.bytes). Usage: bench_catalog FILE [RUNS]; prints one line
 * "products=N bytes=B bytes_per_product=P load_ms_best=T load_ms_median=M".
 * It measures; it asserts nothing but that the file loads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/ruleset/catalog.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_catalog FILE [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 100) runs = 5;
    double ms[100];
    arb_catalog_t *c = NULL;
    for (int i = 0; i < runs; i++) {
        arb_problems_t p = { 0 };
        double t0 = now_ms();
        arb_catalog_t *next = arb_catalog_load(argv[1], NULL, &p);
        ms[i] = now_ms() - t0;
        if (!next) {
            for (size_t k = 0; k < p.n; k++) fprintf(stderr, "%s\n", p.items[k]);
            return 1;
        }
        arb_problems_free(&p);
        arb_catalog_release(c);
        c = next;
    }
    qsort(ms, (size_t)runs, sizeof *ms, by_value);
    printf("products=%u bytes=%zu bytes_per_product=%.0f load_ms_best=%.1f load_ms_median=%.1f\n",
           c->n_products, c->bytes, c->n_products ? (double)c->bytes / c->n_products : 0.0, ms[0],
           ms[runs / 2]);
    arb_catalog_release(c);
    return 0;
}
