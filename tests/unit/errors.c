/*
 * errors.c: the per-thread last error, hl_strerror and hl_error_name.
 */
#include "testutil.h"

#include <pthread.h>
#include <string.h>

static void test_errors__no_error_at_start(void **state)
{
	(void)state;
	hl_error_clear();
	assert_int_equal(hl_error_last()->code, HL_OK);
	assert_string_equal(hl_error_last()->message, "no error");
}

static void test_errors__set_and_clear(void **state)
{
	(void)state;
	assert_int_equal(hl_error_set(HL_ENOTFOUND, HL_ERROR_TOOL, "thing %d\nmissing", 7), HL_ENOTFOUND);
	assert_string_equal(hl_error_last()->message, "thing 7 missing"); /* one line */
	assert_int_equal(hl_error_last()->klass, HL_ERROR_TOOL);
	hl_error_clear();
	assert_int_equal(hl_error_last()->code, HL_OK);
}

/* Messages go into JSON: they are valid UTF-8 whatever they quote, and
 * wherever the buffer's end cuts them. */
static void test_errors__message_is_utf8(void **state)
{
	char long_value[1100];
	size_t n;

	(void)state;
	hl_error_set(HL_EINVALID, HL_ERROR_INVALID, "bad \xff\xfe, overlong \xc0\xaf, surrogate \xed\xa0\x80, "
	             "cut \xe2\x82, kept \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(hl_error_last()->message, "bad ??, overlong ??, surrogate ???, cut ??, kept "
	                    "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* a two-byte character cut in half by the message buffer */
	memset(long_value, 'a', sizeof(long_value));
	for (size_t i = 1000; i + 1 < sizeof(long_value); i += 2)
		memcpy(long_value + i, "\xc3\xa9", 2);
	long_value[sizeof(long_value) - 1] = '\0';
	for (int shift = 0; shift < 2; shift++) {
		const char *m;
		hl_error_set(HL_ENOTFOUND, HL_ERROR_INVENTORY, "%s%s", shift ? "x" : "", long_value);
		m = hl_error_last()->message;
		n = strlen(m);
		assert_int_equal(n, 1023);
		for (size_t i = 1001; i + 1 < n; i++)
			assert_true((unsigned char)m[i] >= 0x80);
		/* unshifted, the buffer ends on the first half of an e-acute */
		assert_true(shift ? (unsigned char)m[n - 1] == 0xa9 : m[n - 1] == '?');
	}
	hl_error_clear();
}

static void test_errors__strerror_and_names(void **state)
{
	(void)state;
	assert_string_equal(hl_strerror(HL_ENOTFOUND), "not found");
	assert_string_equal(hl_error_name(HL_EFULL), "HL_EFULL");
	assert_string_equal(hl_strerror(12345), "unknown error code");
	assert_null(hl_error_name(12345));
	assert_string_equal(hl_error_name(HL_EUNSUPPORTED), "HL_EUNSUPPORTED");
	assert_string_equal(hl_error_name(HL_EDECLINED), "HL_EDECLINED");
	assert_null(hl_error_name(HL_EDECLINED - 1));
	for (int c = 0; c >= HL_EDECLINED; c--)
		assert_non_null(hl_error_name(c));
}

static void *other_thread(void *arg)
{
	(void)arg;
	hl_error_set(HL_ETIMEOUT, HL_ERROR_SSH, "from the other thread");
	return NULL;
}

static void test_errors__per_thread(void **state)
{
	pthread_t th;

	(void)state;
	hl_error_set(HL_EINVALID, HL_ERROR_INVALID, "mine");
	assert_int_equal(pthread_create(&th, NULL, other_thread, NULL), 0);
	pthread_join(th, NULL);
	assert_string_equal(hl_error_last()->message, "mine");
}

static void test_buf__set_and_dispose(void **state)
{
	hl_buf b = HL_BUF_INIT;

	(void)state;
	assert_int_equal(hl_buf_set(&b, "abc", 3), 0);
	assert_string_equal(b.ptr, "abc");
	assert_int_equal(b.size, 3);
	assert_int_equal(hl_buf_set(&b, "longer text", 11), 0);
	assert_string_equal(b.ptr, "longer text");
	hl_buf_dispose(&b);
	assert_null(b.ptr);
	hl_buf_dispose(&b);
	hl_buf_dispose(NULL);
	tu_assert_error(hl_buf_set(NULL, "x", 1), HL_EINVALID, "buf is NULL");
	tu_assert_error(hl_buf_set(&b, NULL, 1), HL_EINVALID, "data is NULL");
}

static void test_version__matches_header(void **state)
{
	(void)state;
	assert_string_equal(hl_version(), HOMELAB_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors__no_error_at_start),
		cmocka_unit_test(test_errors__set_and_clear),
		cmocka_unit_test(test_errors__message_is_utf8),
		cmocka_unit_test(test_errors__strerror_and_names),
		cmocka_unit_test(test_errors__per_thread),
		cmocka_unit_test(test_buf__set_and_dispose),
		cmocka_unit_test(test_version__matches_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
