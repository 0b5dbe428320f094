// SPDX-License-Identifier: MIT
/* Option lists: "word,key=value,..." as --net, --vsock, --fs and --cpu take them. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>

#include <cmocka.h>

#include "util/kvlist.h"

static void test_parse_items(void **state)
{
	struct kvlist l;
	struct errbuf e;

	assert_int_equal(kvlist_parse(&l, "--net", "user,hostfwd=tcp::1-:2,mac=x,hostfwd=b", &e),
			 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.items[0].key, "user");
	assert_null(l.items[0].value);
	assert_string_equal(l.items[1].key, "hostfwd");
	assert_string_equal(l.items[1].value, "tcp::1-:2");
	/* the last of a repeated key wins for kvlist_get; every one is kept in order */
	assert_string_equal(kvlist_get(&l, "hostfwd"), "b");
	assert_true(kvlist_has(&l, "user"));
	assert_false(kvlist_has(&l, "tap"));
	assert_null(kvlist_get(&l, "user"));
	kvlist_free(&l);
}

static void test_empty_value_kept(void **state)
{
	struct kvlist l;
	struct errbuf e;

	assert_int_equal(kvlist_parse(&l, "--fs", "tag=,path=/x=y", &e), 0);
	assert_string_equal(kvlist_get(&l, "tag"), "");
	assert_string_equal(kvlist_get(&l, "path"), "/x=y");
	kvlist_free(&l);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = { "", "a,,b", ",a", "a,", "=v", "a,=v" };
	struct kvlist l;
	struct errbuf e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(kvlist_parse(&l, "--x", bad[i], &e), -EINVAL);
		assert_non_null(strstr(e.msg, "--x"));
		assert_null(l.buf);
	}
}

static void test_too_many_items(void **state)
{
	char arg[KVLIST_MAX * 2 + 4] = "";
	struct kvlist l;
	struct errbuf e;

	for (int i = 0; i <= KVLIST_MAX; i++)
		strcat(arg, i ? ",a" : "a");
	assert_int_equal(kvlist_parse(&l, "--x", arg, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "more than"));
}

static void test_check(void **state)
{
	static const char *const known[] = { "cid", "socket", "hostfwd", NULL };
	static const char *const rep[] = { "hostfwd", NULL };
	struct kvlist l;
	struct errbuf e;

	assert_int_equal(kvlist_parse(&l, "--v", "cid=3,hostfwd=a,hostfwd=b", &e), 0);
	assert_int_equal(kvlist_check(&l, "--v", known, rep, &e), 0);
	kvlist_free(&l);
	assert_int_equal(kvlist_parse(&l, "--v", "cid=3,cid=4", &e), 0);
	assert_int_equal(kvlist_check(&l, "--v", known, rep, &e), -EINVAL);
	assert_string_equal(e.msg, "--v: 'cid' given twice");
	kvlist_free(&l);
	assert_int_equal(kvlist_parse(&l, "--v", "cid=3,port=4", &e), 0);
	assert_int_equal(kvlist_check(&l, "--v", known, rep, &e), -EINVAL);
	assert_string_equal(e.msg, "--v: unknown option 'port'");
	kvlist_free(&l);
}

static void test_values(void **state)
{
	uint64_t v;

	assert_int_equal(kv_parse_bool("on"), 1);
	assert_int_equal(kv_parse_bool("off"), 0);
	assert_int_equal(kv_parse_bool("yes"), 1);
	assert_int_equal(kv_parse_bool("0"), 0);
	assert_int_equal(kv_parse_bool("maybe"), -EINVAL);
	assert_int_equal(kv_parse_bool(NULL), -EINVAL);
	assert_int_equal(kv_parse_u64("4294967295", &v), 0);
	assert_true(v == 4294967295ULL);
	assert_int_equal(kv_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(kv_parse_u64("-1", &v), -EINVAL);
	assert_int_equal(kv_parse_u64("", &v), -EINVAL);
	assert_int_equal(kv_parse_u64("12k", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_items),   cmocka_unit_test(test_empty_value_kept),
		cmocka_unit_test(test_parse_refuses), cmocka_unit_test(test_too_many_items),
		cmocka_unit_test(test_check),	      cmocka_unit_test(test_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
