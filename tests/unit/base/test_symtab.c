/* Symbols (engine/symtab.c): every interned name is found again, and only
 * it, whatever its length, however many there are, and however close two
 * names are. Names up to 16 bytes compare as two words loaded from exactly
 * their bytes; longer ones by their bytes too. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "engine/base/symtab.h"

static arb_symtab_t T;

static void setup(void) { arb_symtab_init(&T); }
static void teardown(void) { arb_symtab_free(&T); }

TestSuite(symtab, .init = setup, .fini = teardown);

static int32_t find(const char *s) { return arb_symtab_find(&T, s, (uint32_t)strlen(s)); }
static int32_t intern(const char *s) { return arb_symtab_intern(&T, s, (uint32_t)strlen(s)); }

Test(symtab, an_empty_table_finds_nothing)
{
    cr_expect_eq(find("laptop"), -1);
    cr_expect_eq(find(""), -1);
    cr_expect_eq(find("a name longer than sixteen bytes"), -1);
}

Test(symtab, interning_twice_gives_the_same_id)
{
    int32_t a = intern("laptop"), b = intern("mouse");
    cr_expect_neq(a, b);
    cr_expect_eq(intern("laptop"), a);
    cr_expect_eq(find("laptop"), a);
    cr_expect_eq(find("mouse"), b);
    cr_expect_eq(T.n, 2);
    cr_expect_str_eq(T.names[a], "laptop");
    cr_expect_eq(T.lens[b], 5);
}

Test(symtab, every_length_from_empty_to_forty_bytes)
{
    const char *alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";
    int32_t ids[41];
    for (uint32_t n = 0; n <= 40; n++) ids[n] = arb_symtab_intern(&T, alphabet, n);
    for (uint32_t n = 0; n <= 40; n++) {
        cr_expect_eq(arb_symtab_find(&T, alphabet, n), ids[n], "length %u", n);
        for (uint32_t m = 0; m < n; m++) cr_expect_neq(ids[m], ids[n], "lengths %u and %u", m, n);
    }
}

Test(symtab, names_differing_in_one_byte_anywhere_are_different)
{
    /* Every position of names of 1..40 bytes: the word loads must cover
     * every byte, including the overlapping ones of short tails. */
    char base[41], other[41];
    for (uint32_t n = 1; n <= 40; n++) {
        arb_symtab_free(&T);
        arb_symtab_init(&T);
        memset(base, 'x', n);
        int32_t id = arb_symtab_intern(&T, base, n);
        for (uint32_t at = 0; at < n; at++) {
            memcpy(other, base, n);
            other[at] = 'y';
            cr_expect_eq(arb_symtab_find(&T, other, n), -1, "length %u, byte %u", n, at);
        }
        cr_expect_eq(arb_symtab_find(&T, base, n), id, "length %u", n);
    }
}

Test(symtab, a_name_is_found_inside_a_larger_buffer)
{
    /* Context strings point into the request's frame: no NUL after them. */
    int32_t id = intern("tv");
    const char frame[] = "\xa2tv\xa5phone";
    cr_expect_eq(arb_symtab_find(&T, frame + 1, 2), id);
    cr_expect_eq(arb_symtab_find(&T, frame + 4, 5), -1);
}

Test(symtab, many_names_survive_the_table_growing)
{
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, i % 2 ? "SKU-%08d" : "category-with-a-long-name-%d", i);
        cr_assert_eq(intern(name), i, "%s", name);
    }
    cr_expect_eq(T.n, 5000);
    cr_expect_gt(T.cap, 2 * T.n - 1, "at most half full");
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, i % 2 ? "SKU-%08d" : "category-with-a-long-name-%d", i);
        cr_expect_eq(find(name), i, "%s", name);
    }
    cr_expect_eq(find("SKU-00005000"), -1);
    cr_expect_eq(find("category-with-a-long-name-5000"), -1);
}

Test(symtab, long_names_sharing_their_first_sixteen_bytes)
{
    int32_t a = intern("accessories-for-laptops"), b = intern("accessories-for-phones");
    cr_expect_neq(a, b);
    cr_expect_eq(find("accessories-for-laptops"), a);
    cr_expect_eq(find("accessories-for-phones"), b);
    cr_expect_eq(find("accessories-for-tablets"), -1);
    cr_expect_eq(find("accessories-for-"), -1);
}
