/* Unit tests for what a loaded ruleset says about itself
 * (engine/ruleset/ruleset.c): its version (sequence and checksum), stable
 * while nothing changes and new when a file does, and the `ruleset`
 * description of touchpoints and actions. Split from test_ruleset.c, which
 * tests load errors. Rule folders come from tests/support/rulefix.c.
 */
#include <criterion/criterion.h>

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "engine/wire/answer.h"
#include "tests/support/rulefix.h"

TestSuite(ruleset_info, .init = rf_setup, .fini = rf_teardown);

/* ---- version and checksum ------------------------------------------------ */

static void version_of(char *out, size_t n)
{
    cr_assert_not_null(R.rs, "%s", rf_problems(&R));
    snprintf(out, n, "%s", arb_ruleset_version(R.rs));
}

/* The checksum part of a version string. */
static const char *sum_of(const char *version)
{
    const char *dash = strchr(version, '-');
    return dash ? dash + 1 : "";
}

Test(ruleset_info, version_is_seq_dash_12_hex)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL));
    arb_ruleset_free(R.rs);
    R.rs = arb_ruleset_load(R.dir, 42, &R.problems);
    char v[64];
    version_of(v, sizeof v);
    regex_t re;
    cr_assert_eq(regcomp(&re, "^42-[0-9a-f]{12}$", REG_EXTENDED | REG_NOSUB), 0);
    cr_expect_eq(regexec(&re, v, 0, NULL, 0), 0, "version '%s'", v);
    regfree(&re);
}

Test(ruleset_info, checksum_is_stable_when_nothing_changes)
{
    const char *rules = "action 'a' { channels = { 'web' }, value = 1 }\n";
    cr_assert(rf_load(&R, "a.lua", rules, "a_test.lua", "-- tests\n", NULL));
    char v1[64], v2[64], v3[64];
    version_of(v1, sizeof v1);
    cr_assert(rf_reload(&R));
    version_of(v2, sizeof v2);
    cr_expect_str_neq(v1, v2, "the sequence number differs");
    cr_expect_str_eq(sum_of(v1), sum_of(v2), "same files, same checksum");
    rf_write(&R, "a.lua", rules);   /* rewritten with the same bytes */
    cr_assert(rf_reload(&R));
    version_of(v3, sizeof v3);
    cr_expect_str_eq(sum_of(v1), sum_of(v3), "rewriting the same bytes changes nothing");

    /* the same files in another folder */
    rf_t other;
    rf_init(&other);
    cr_assert(rf_load(&other, "a.lua", rules, "a_test.lua", "-- tests\n", NULL));
    cr_expect_str_eq(sum_of(arb_ruleset_version(other.rs)), sum_of(v1), "the folder's path does not count");
    rf_fini(&other);
}

Test(ruleset_info, checksum_changes_when_a_file_changes)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL));
    char v0[64], v[64];
    version_of(v0, sizeof v0);

    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 2 }\n", NULL));
    version_of(v, sizeof v);
    cr_expect_str_neq(sum_of(v), sum_of(v0), "one byte of a rule file");

    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL));
    version_of(v, sizeof v);
    cr_expect_str_eq(sum_of(v), sum_of(v0), "back to the same content, back to the same checksum");

    cr_assert(rf_load(&R, "b.lua", "-- nothing\n", NULL));
    version_of(v, sizeof v);
    cr_expect_str_neq(sum_of(v), sum_of(v0), "a new file");
    rf_unlink(&R, "b.lua");

    cr_assert(rf_load(&R, "a_test.lua", "-- a test file\n", NULL));
    version_of(v, sizeof v);
    cr_expect_str_neq(sum_of(v), sum_of(v0), "a new test file");
    rf_unlink(&R, "a_test.lua");

    rf_unlink(&R, "a.lua");
    cr_assert(rf_load(&R, "b.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL));
    version_of(v, sizeof v);
    cr_expect_str_neq(sum_of(v), sum_of(v0), "a renamed file");
}

/* ---- the `ruleset` description ------------------------------------------ */

static msgpack_sbuffer info_buf;
static msgpack_unpacked info_up;

static const msgpack_object *pack_info(void)
{
    msgpack_sbuffer_init(&info_buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &info_buf, msgpack_sbuffer_write);
    arb_answer_pack_ruleset(&pk, R.rs);
    msgpack_unpacked_init(&info_up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&info_up, info_buf.data, info_buf.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, info_buf.size, "one value exactly");
    return &info_up.data;
}

static void pack_info_done(void)
{
    msgpack_unpacked_destroy(&info_up);
    msgpack_sbuffer_destroy(&info_buf);
}

static const msgpack_object *find_by_id(const msgpack_object *arr, const char *id)
{
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY) return NULL;
    for (uint32_t i = 0; i < arr->via.array.size; i++)
        if (rf_str_is(rf_get(&arr->via.array.ptr[i], "id"), id)) return &arr->via.array.ptr[i];
    return NULL;
}

static bool str_array_is(const msgpack_object *arr, const char *const *want, uint32_t n)
{
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size != n) return false;
    for (uint32_t i = 0; i < n; i++)
        if (!rf_str_is(&arr->via.array.ptr[i], want[i])) return false;
    return true;
}

Test(ruleset_info, pack_info_lists_touchpoints_with_their_limits)
{
    cr_assert(rf_load(&R, "a.lua",
                      "settings { default_limit = 5 }\n"
                      "touchpoint 'web_home' { limit = 4, diverse = 'category' }\n"
                      "touchpoint 'email_post' { limit = 1 }\n"
                      "touchpoint 'app_home' { description = 'no limit given' }\n"
                      "action 'a' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    const msgpack_object *info = pack_info();
    cr_expect(rf_str_is(rf_get(info, "version"), arb_ruleset_version(R.rs)));
    cr_expect_eq(rf_num(rf_get(info, "default_limit")), 5);
    const msgpack_object *tps = rf_get(info, "touchpoints");
    cr_assert(tps && tps->type == MSGPACK_OBJECT_ARRAY, "%s", rf_json(&R, info));
    cr_expect_eq(tps->via.array.size, 3);
    const msgpack_object *home = find_by_id(tps, "web_home");
    cr_expect_eq(rf_num(rf_get(home, "limit")), 4);
    cr_expect(rf_str_is(rf_get(home, "diverse"), "category"));
    const msgpack_object *post = find_by_id(tps, "email_post");
    cr_expect_eq(rf_num(rf_get(post, "limit")), 1);
    const msgpack_object *nodiv = rf_get(post, "diverse");
    cr_expect(nodiv && nodiv->type == MSGPACK_OBJECT_NIL);
    cr_expect_eq(rf_num(rf_get(find_by_id(tps, "app_home"), "limit")), 5,
                 "a touchpoint without a limit shows the default limit");
    pack_info_done();
}

Test(ruleset_info, pack_info_lists_actions_with_their_fields)
{
    cr_assert(rf_load(&R, "offers.lua",
                      "models { 'accessories' }\n"
                      "channels { 'kiosk' }\n"
                      "touchpoint 'web_cart' { limit = 2 }\n"
                      "\n"
                      "action 'mouse' {\n"
                      "  channels = { 'email', 'web' }, touchpoints = { 'web_cart' },\n"
                      "  requires = { 'location', 'marketing' },\n"
                      "  value = 25, lever = 1.5, model = 'accessories', category = 'accessory',\n"
                      "  when = bought('laptop'),\n"
                      "}\n"
                      "fallback 'newsletter' { channels = { 'kiosk' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    const msgpack_object *info = pack_info();
    const msgpack_object *acts = rf_get(info, "actions");
    cr_assert(acts && acts->type == MSGPACK_OBJECT_ARRAY && acts->via.array.size == 2, "%s",
              rf_json(&R, info));
    const msgpack_object *m = find_by_id(acts, "mouse");
    cr_assert_not_null(m, "%s", rf_json(&R, info));
    static const char *const chans[] = { "web", "email" };
    cr_expect(str_array_is(rf_get(m, "channels"), chans, 2), "channels: %s", rf_json(&R, rf_get(m, "channels")));
    static const char *const tps[] = { "web_cart" };
    cr_expect(str_array_is(rf_get(m, "touchpoints"), tps, 1));
    static const char *const reqs[] = { "location", "marketing" };
    cr_expect(str_array_is(rf_get(m, "requires"), reqs, 2));
    cr_expect_eq(rf_num(rf_get(m, "value")), 25);
    cr_expect_eq(rf_num(rf_get(m, "lever")), 1.5);
    cr_expect(rf_str_is(rf_get(m, "model"), "accessories"));
    cr_expect(rf_str_is(rf_get(m, "category"), "accessory"));
    const msgpack_object *fb = rf_get(m, "fallback"), *dyn = rf_get(m, "dynamic");
    cr_expect(fb && fb->type == MSGPACK_OBJECT_BOOLEAN && !fb->via.boolean);
    cr_expect(dyn && dyn->type == MSGPACK_OBJECT_BOOLEAN && dyn->via.boolean);
    char file[300];
    snprintf(file, sizeof file, "%s/offers.lua", R.dir);
    cr_expect(rf_str_is(rf_get(m, "file"), file), "file: %s", rf_json(&R, rf_get(m, "file")));
    cr_expect_eq(rf_num(rf_get(m, "line")), 5);

    const msgpack_object *n = find_by_id(acts, "newsletter");
    cr_assert_not_null(n);
    static const char *const kiosk[] = { "kiosk" };
    cr_expect(str_array_is(rf_get(n, "channels"), kiosk, 1));
    cr_expect(rf_get(n, "fallback")->via.boolean);
    cr_expect_not(rf_get(n, "dynamic")->via.boolean);
    cr_expect_eq(rf_get(n, "model")->type, MSGPACK_OBJECT_NIL);
    cr_expect_eq(rf_get(n, "category")->type, MSGPACK_OBJECT_NIL);
    cr_expect_eq(rf_get(n, "touchpoints")->via.array.size, 0);
    cr_expect_eq(rf_num(rf_get(n, "lever")), 1, "lever defaults to 1");

    const msgpack_object *models = rf_get(info, "models");
    static const char *const ms[] = { "accessories" };
    cr_expect(str_array_is(models, ms, 1));
    const msgpack_object *channels = rf_get(info, "channels");
    cr_assert(channels && channels->type == MSGPACK_OBJECT_ARRAY);
    bool kiosk_listed = false;
    for (uint32_t i = 0; i < channels->via.array.size; i++)
        kiosk_listed |= rf_str_is(&channels->via.array.ptr[i], "kiosk");
    cr_expect(kiosk_listed, "declared channels are listed: %s", rf_json(&R, channels));
    pack_info_done();
}
