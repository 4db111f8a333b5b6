/*
 * fuzz_uritmpl.c: URI templates of registered resources (uritmpl.c). The
 * input is a template, a newline, then a URI. Properties: a template is
 * accepted or refused with a message, never more; matching ends (its step
 * budget) and, on a match, yields a JSON object with one string per
 * expression, each UTF-8 without a control character, that substituted
 * back (percent-encoded) into the template gives a URI the template
 * matches again.
 */
#include "hl.h"
#include "uritmpl.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tmpl with each {name} replaced by vars' value, percent-encoded. */
static char *substitute(const char *tmpl, struct json_object *vars)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t cap = strlen(tmpl) + 8 * 255 * 3 + 1, n = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (const char *p = tmpl; *p;) {
		if (*p != '{') {
			out[n++] = *p++;
			continue;
		}
		const char *close = strchr(p, '}');
		char name[40];
		struct json_object *v;
		snprintf(name, sizeof(name), "%.*s", (int)(close - p - 1), p + 1);
		if (!json_object_object_get_ex(vars, name, &v) || !json_object_is_type(v, json_type_string))
			abort();
		for (const unsigned char *c = (const unsigned char *)json_object_get_string(v); *c; c++) {
			out[n++] = '%';
			out[n++] = hex[*c >> 4];
			out[n++] = hex[*c & 15];
		}
		p = close + 1;
	}
	out[n] = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char *tmpl, *uri, *again;
	hl_buf vars = HL_BUF_INIT;
	struct json_object *o;
	int nvars = 0, rc;

	if (!nl)
		return 0;
	tmpl = strndup((const char *)data, (size_t)(nl - data));
	uri = strndup((const char *)nl + 1, size - (size_t)(nl - data) - 1);
	if (!tmpl || !uri)
		abort();
	if (hl_uritmpl__check(tmpl, "fuzz") < 0) {
		if (hl_error_last()->code != HL_EINVALID || !strstr(hl_error_last()->message, "fuzz: "))
			abort();
		goto done;
	}
	for (const char *p = tmpl; (p = strchr(p, '{')); p++)
		nvars++;
	rc = hl_uritmpl__match(tmpl, uri, &vars);
	if (rc != 1) {
		if (rc != 0 || vars.ptr)
			abort();
		goto done;
	}
	if (hl_uritmpl__match(tmpl, uri, NULL) != 1)
		abort();
	o = json_tokener_parse(vars.ptr);
	if (!o || !json_object_is_type(o, json_type_object) || json_object_object_length(o) != nvars)
		abort();
	json_object_object_foreach(o, key, val) {
		const unsigned char *s = (const unsigned char *)json_object_get_string(val);
		(void)key;
		if (!json_object_is_type(val, json_type_string) || !*s || strlen((const char *)s) > 255)
			abort();
		for (; *s; s++)
			if (*s < 0x20 || *s == 0x7f)
				abort();
	}
	/* short enough to match within the budget: the substituted URI matches */
	if ((again = substitute(tmpl, o)) && strlen(again) < 200 && nvars <= 2 &&
	    hl_uritmpl__match(tmpl, again, NULL) != 1)
		abort();
	free(again);
	json_object_put(o);
done:
	hl_buf_dispose(&vars);
	free(tmpl);
	free(uri);
	return 0;
}
