/*
 * fuzz_complete.c: what the shell and `homelab __complete` take from the
 * outside world: a line typed in the shell (cli_split: words and quotes)
 * and the words bash or zsh hand over for completion (cli_complete), plus
 * "did you mean" on an unknown word (cli_nearest) and option parsing
 * (cli_parse). The CLI's sources are linked in; its main() is renamed.
 * Every candidate offered must start with the word being completed and hold
 * no control character.
 */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	const char *prefix;
};

static void check(const char *cand, void *payload)
{
	struct seen *s = payload;

	if (!strcmp(cand, CLI_COMPLETE_FILES))
		return; /* "file names here": the shell completes them */
	if (strncmp(cand, s->prefix, strlen(s->prefix)) != 0)
		abort();
	for (const char *p = cand; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* no database: names are not found, everything else is exercised */
	struct cli c = { .db_path = "/nonexistent/fuzz_complete.db", .interactive = (size & 1) != 0 };
	char *line, *copy, *words[65];
	int n;

	if (size > 4096)
		return 0;
	if (!(line = malloc(size + 1)))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	copy = strdup(line);
	n = cli_split(line, words, 64);
	if (n < -2 || n > 64)
		abort();
	if (n >= 0) {
		struct seen s;
		/* complete the last word, or an empty one after a space */
		if (n == 0 || (size > 0 && (data[size - 1] == ' ' || data[size - 1] == '\t')))
			words[n++] = (char *)"";
		s.prefix = words[n - 1];
		cli_complete(&c, n, words, check, &s);
		if (n > 1) {
			static const char *const spec[] = { "status=", "host=", "force", "all", NULL };
			struct cli_args a;
			const char *names[] = { "vms", "hosts", "services", "ollama", "tools" };
			const char *near = cli_nearest(words[0], names, 5);
			if (near && !strcmp(near, words[0]))
				abort(); /* an exact match is not a suggestion */
			/* cli_parse prints usage errors: stderr is fine under the fuzzer */
			(void)cli_parse(&a, n - 1, words + 1, spec);
			if (a.npos > CLI_MAX_POS || a.nopts > CLI_MAX_OPTS)
				abort();
		}
	}
	free(copy);
	free(line);
	return 0;
}
