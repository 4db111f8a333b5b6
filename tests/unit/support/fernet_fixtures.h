/*
 * fernet_fixtures.h: reading tests/fixtures/fernet/{keys,tokens}.txt (made
 * by Python's cryptography Fernet; see the README there). Header-only, for
 * the fernet and vault tests.
 */
#ifndef HL_FERNET_FIXTURES_H
#define HL_FERNET_FIXTURES_H

/* include "testutil.h" first */

#include <stdio.h>
#include <string.h>

struct ff_token {
	char name[32];
	char key[64];            /* the key's text */
	unsigned char plain[512];
	size_t plain_len;
	char token[1024];
};

/* The text of key `name` ("a" or "b"), into a static buffer. */
static inline const char *ff_key(const char *name)
{
	static char out[64];
	char line[256], n[32], k[64];
	FILE *f = fopen(tu_fixture("fernet/keys.txt"), "r");

	if (!f)
		fail_msg("cannot open fernet/keys.txt");
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && sscanf(line, "%31s %63s", n, k) == 2 && !strcmp(n, name)) {
			fclose(f);
			snprintf(out, sizeof(out), "%s", k);
			return out;
		}
	fclose(f);
	fail_msg("no key %s in fernet/keys.txt", name);
	return NULL;
}

/* All tokens; returns how many (at most max). */
static inline size_t ff_tokens(struct ff_token *out, size_t max)
{
	char line[2048], name[32], key[32], hex[1100], token[1024];
	size_t n = 0;
	FILE *f = fopen(tu_fixture("fernet/tokens.txt"), "r");

	if (!f)
		fail_msg("cannot open fernet/tokens.txt");
	while (n < max && fgets(line, sizeof(line), f)) {
		struct ff_token *t = &out[n];
		if (line[0] == '#' || sscanf(line, "%31s %31s %1099s %1023s", name, key, hex, token) != 4)
			continue;
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", name);
		snprintf(t->key, sizeof(t->key), "%s", ff_key(key));
		snprintf(t->token, sizeof(t->token), "%s", token);
		if (strcmp(hex, "-") != 0)
			for (size_t i = 0; hex[2 * i] && hex[2 * i + 1] && i < sizeof(t->plain); i++) {
				unsigned v;
				sscanf(hex + 2 * i, "%2x", &v);
				t->plain[t->plain_len++] = (unsigned char)v;
			}
		n++;
	}
	fclose(f);
	if (n == 0)
		fail_msg("no tokens in fernet/tokens.txt");
	return n;
}

/* The token of fixture `name`, into a static buffer. */
static inline const struct ff_token *ff_token(const char *name)
{
	static struct ff_token all[16];
	size_t n = ff_tokens(all, 16);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i].name, name))
			return &all[i];
	fail_msg("no token %s in fernet/tokens.txt", name);
	return NULL;
}

#endif
