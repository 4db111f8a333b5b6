/*
 * prompt.c: the prompt table (see homelab/prompt.h). A prompt is a text with
 * {argument} placeholders; arguments are declared as MCP shows them, with
 * the kind of name each one takes for completion.
 */
#include "hl.h"
#include "json.h"
#include "jw.h"

#include <homelab/complete.h>
#include <homelab/prompt.h>

#include <pthread.h>
#include <string.h>
#include <strings.h>

#define MAX_ARGS 8
#define MAX_VALUES 64

struct prompt_arg {
	const char *name, *description, *kind; /* kind: for completion; NULL: free text */
	bool required;
	char **values;                         /* a registered argument's completion values; NULL: none */
};

struct hl_prompt {
	const char *name, *title, *description;
	struct prompt_arg args[MAX_ARGS];
	const char *arguments_json; /* built from args on first use */
	const char *text;
	/* registered prompts only */
	bool registered;
	hl_prompt_handler handler;
	void *payload;
	struct hl_prompt *next;
};

#define ARG(n, d, k, r) { n, d, k, r, NULL }

static struct hl_prompt table[] = {
	{ "diagnose_vm", "Diagnose a VM",
	  "Look into one VM: its record, its services and their health, its GPU and what its logs say.",
	  { ARG("vm", "the VM's name or vm_id", "vm", true) }, NULL,
	  "Diagnose the VM {vm} of my homelab and tell me what is wrong and what to do about it.\n"
	  "1. Read its record with homelab_get_vm (name or vm_id {vm}).\n"
	  "2. Check its services with homelab_check_all_services (vm {vm}).\n"
	  "3. Look at the machine with whisper_ssh_command (target {vm}): `uptime`, `df -h`, `free -m`, "
	  "`systemctl --failed` and `journalctl -p err -n 50 --no-pager`.\n"
	  "4. If it has a GPU, read whisper_gpu_status (target {vm}).\n"
	  "Only read: change nothing without asking me first." , .registered = false },
	{ "gpu_report", "GPU report",
	  "How the GPUs of a VM are used: memory, load, temperature, power, the processes and the models loaded.",
	  { ARG("target", "the VM's name or vm_id (default: the default target)", "vm", false) }, NULL,
	  "Report on the GPUs of {target}: call whisper_gpu_status (target {target}) and "
	  "ollama_running_models (target {target}). For each GPU give its memory used and free, load, "
	  "temperature and power against its limit, and which processes and models use it. Say plainly "
	  "whether there is room for another model." , .registered = false },
	{ "tune_modelfile", "Tune a Modelfile",
	  "Change an Ollama model's Modelfile (a parameter, the system prompt, the template) and create the new model.",
	  { ARG("model", "the Ollama model, e.g. gemma:2b", "model", true),
	    ARG("change", "what to change, e.g. set temperature to 0.6", NULL, true) }, NULL,
	  "Show me the Modelfile of the Ollama model {model} (ollama_show_model), then change it: {change}. "
	  "Show me the new Modelfile and, once I agree, create it with ollama_create_model under a new name "
	  "(for example {model} with a suffix), so the original stays as it is." , .registered = false },
	{ "inventory_overview", "Inventory overview",
	  "An overview of the homelab: hosts, VMs, services and their health.",
	  { { NULL, NULL, NULL, false, NULL } }, NULL,
	  "Give me an overview of my homelab: the Proxmox hosts (homelab_list_hosts), the VMs by status "
	  "(homelab_list_vms), the services (homelab_list_services) and their health "
	  "(homelab_check_all_services). Point out anything stopped, unhealthy or unusual." , .registered = false },
};
#define NPROMPTS (sizeof(table) / sizeof(table[0]))

static pthread_once_t built = PTHREAD_ONCE_INIT;
static hl_buf arg_texts[NPROMPTS];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hl_prompt *reg_head, *reg_tail;

/* A prompt's arguments as prompts/list shows them. */
static int arguments_text(hl_buf *out, const struct prompt_arg *args)
{
	hl_jw w;

	hl_jw__init(&w, out);
	hl_jw__arr(&w);
	for (int a = 0; a < MAX_ARGS && args[a].name; a++) {
		hl_jw__obj(&w);
		hl_jw__kstr(&w, "name", args[a].name);
		if (args[a].description)
			hl_jw__kstr(&w, "description", args[a].description);
		hl_jw__kbool(&w, "required", args[a].required);
		hl_jw__end_obj(&w);
	}
	hl_jw__end_arr(&w);
	return hl_jw__finish(&w);
}

static void build_arguments(void)
{
	for (size_t i = 0; i < NPROMPTS; i++)
		table[i].arguments_json = arguments_text(&arg_texts[i], table[i].args) == 0 ? arg_texts[i].ptr : "[]";
}

const hl_prompt *hl_prompt_next(const hl_prompt *prev)
{
	const hl_prompt *next;

	pthread_once(&built, build_arguments);
	if (!prev)
		return table;
	if (prev >= table && prev < table + NPROMPTS && prev + 1 < table + NPROMPTS)
		return prev + 1;
	pthread_mutex_lock(&reg_lock);
	next = prev >= table && prev < table + NPROMPTS ? reg_head : prev->next;
	pthread_mutex_unlock(&reg_lock);
	return next;
}

const hl_prompt *hl_prompt_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (const hl_prompt *p = hl_prompt_next(NULL); p; p = hl_prompt_next(p))
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

/* Is the name taken (built-in or registered)? Under reg_lock. */
static bool hl_prompt_lookup_locked(const char *name)
{
	for (size_t i = 0; i < NPROMPTS; i++)
		if (!strcmp(table[i].name, name))
			return true;
	for (const struct hl_prompt *p = reg_head; p; p = p->next)
		if (!strcmp(p->name, name))
			return true;
	return false;
}

const char *hl_prompt_name(const hl_prompt *p) { return p ? p->name : NULL; }
const char *hl_prompt_title(const hl_prompt *p) { return p ? p->title : NULL; }
const char *hl_prompt_description(const hl_prompt *p) { return p ? p->description : NULL; }

const char *hl_prompt_arguments(const hl_prompt *p)
{
	pthread_once(&built, build_arguments);
	return p ? p->arguments_json : NULL;
}

static const struct prompt_arg *find_arg(const hl_prompt *p, const char *name)
{
	for (int a = 0; a < MAX_ARGS && p->args[a].name; a++)
		if (!strcmp(p->args[a].name, name))
			return &p->args[a];
	return NULL;
}

const char *hl_prompt_argument_kind(const hl_prompt *p, const char *arg)
{
	const struct prompt_arg *a = p && arg ? find_arg(p, arg) : NULL;
	return a ? a->kind : NULL;
}

/* The text with each {name} replaced by its value ("the default target"
 * for an optional argument not given). */
static int expand(hl_buf *out, const hl_prompt *p, struct json_object *args)
{
	const char *s = p->text;

	while (*s) {
		const char *open = strchr(s, '{'), *close = open ? strchr(open, '}') : NULL;
		const struct prompt_arg *a = NULL;
		char name[32];
		if (open && close && (size_t)(close - open - 1) < sizeof(name)) {
			memcpy(name, open + 1, (size_t)(close - open - 1));
			name[close - open - 1] = '\0';
			a = find_arg(p, name);
		}
		if (!a) {
			size_t n = open ? (size_t)(open - s) + 1 : strlen(s);
			if (hl_buf__put(out, s, n) < 0)
				return HL_ENOMEM;
			s += n;
			continue;
		}
		if (hl_buf__put(out, s, (size_t)(open - s)) < 0)
			return HL_ENOMEM;
		const char *v = args ? hl_json__get_str(args, name) : NULL;
		if (!v)
			v = p->registered ? "" : "the default target";
		if (hl_buf__put(out, v, strlen(v)) < 0)
			return HL_ENOMEM;
		s = close + 1;
	}
	return 0;
}

/* Is o a prompts/get result: {"messages": [{"role", "content": {"type"}}]}? */
static int check_messages(const hl_prompt *p, struct json_object *o)
{
	struct json_object *msgs, *role, *content, *type;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "messages", &msgs) ||
	    !json_object_is_type(msgs, json_type_array))
		return hl__err(HL_ERROR, HL_ERROR_CALLBACK, "prompt %s: the handler's result is not an object with "
		               "a messages array", p->name);
	for (size_t i = 0; i < json_object_array_length(msgs); i++) {
		struct json_object *m = json_object_array_get_idx(msgs, i);
		const char *r;
		if (!json_object_is_type(m, json_type_object) || !json_object_object_get_ex(m, "role", &role) ||
		    !(r = json_object_get_string(role)) || !json_object_is_type(role, json_type_string) ||
		    (strcmp(r, "user") && strcmp(r, "assistant")) || !json_object_object_get_ex(m, "content", &content) ||
		    !json_object_is_type(content, json_type_object) || !json_object_object_get_ex(content, "type", &type) ||
		    !json_object_is_type(type, json_type_string))
			return hl__err(HL_ERROR, HL_ERROR_CALLBACK, "prompt %s: message %zu needs a role (user or assistant) "
			               "and a content object with a type", p->name, i);
	}
	return 0;
}

/* A registered prompt's handler, its result checked. */
static int get_registered(hl_buf *out, const hl_prompt *p, const char *args_json)
{
	hl_buf got = HL_BUF_INIT;
	struct json_object *o;
	int err;

	hl_error_clear();
	err = p->handler(&got, args_json && *args_json ? args_json : "{}", p->payload);
	if (err > 0)
		err = hl__err(HL_ERROR, HL_ERROR_CALLBACK, "prompt %s: the handler returned %d", p->name, err);
	if (err < 0) {
		if (hl__err_code() == HL_OK)
			hl__err(err, HL_ERROR_CALLBACK, "prompt %s: the handler failed", p->name);
		hl_buf_dispose(&got);
		return err;
	}
	o = got.ptr ? json_tokener_parse(got.ptr) : NULL;
	err = check_messages(p, o);
	json_object_put(o);
	if (err < 0) {
		hl_buf_dispose(&got);
		return err;
	}
	hl_buf_dispose(out);
	*out = got;
	return 0;
}

int hl_prompt_get(hl_buf *out, const hl_prompt *p, const char *args_json)
{
	struct json_object *args = NULL;
	hl_buf text = HL_BUF_INIT;
	hl_jw w;
	int err = 0;

	if (!out || !p)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_prompt_get: out and prompt are required");
	if (args_json && *args_json) {
		enum json_tokener_error jerr;
		args = json_tokener_parse_verbose(args_json, &jerr);
		if (!args || !json_object_is_type(args, json_type_object)) {
			json_object_put(args);
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: the arguments must be a JSON object",
			               p->name);
		}
		json_object_object_foreach(args, key, val) {
			if (!find_arg(p, key))
				err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: unknown argument '%.64s'", p->name, key);
			else if (!json_object_is_type(val, json_type_string))
				err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument '%.64s' must be a string",
				              p->name, key);
			else if (json_object_get_string_len(val) > 1000)
				err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument '%.64s' is longer than 1000 "
				              "bytes", p->name, key);
			if (err < 0)
				break;
		}
	}
	for (int a = 0; err == 0 && a < MAX_ARGS && p->args[a].name; a++) {
		const char *v = args ? hl_json__get_str(args, p->args[a].name) : NULL;
		if (p->args[a].required && (!v || !*v))
			err = hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument '%s' is required (%s)", p->name,
			              p->args[a].name, p->args[a].description);
	}
	if (err == 0 && p->handler) {
		json_object_put(args);
		return get_registered(out, p, args_json);
	}
	if (err == 0)
		err = expand(&text, p, args);
	json_object_put(args);
	if (err < 0) {
		hl_buf_dispose(&text);
		return err;
	}
	hl_buf_dispose(out);
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "description", p->description);
	hl_jw__key(&w, "messages");
	hl_jw__arr(&w);
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "role", "user");
	hl_jw__key(&w, "content");
	hl_jw__obj(&w);
	hl_jw__kstr(&w, "type", "text");
	hl_jw__kstr(&w, "text", text.ptr ? text.ptr : "");
	hl_jw__end_obj(&w);
	hl_jw__end_obj(&w);
	hl_jw__end_arr(&w);
	hl_jw__end_obj(&w);
	hl_buf_dispose(&text);
	return hl_jw__finish(&w);
}

int hl_prompt_complete(hl_buf *out, hl_ctx *ctx, const hl_prompt *p, const char *arg, const char *prefix,
                       const char *target, size_t limit)
{
	const struct prompt_arg *a;
	size_t n = 0, plen = prefix ? strlen(prefix) : 0;
	hl_jw w;
	int err;

	if (!out || !p || !arg)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_prompt_complete: out, prompt and arg are required");
	if (!(a = find_arg(p, arg)))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s has no argument '%.64s'", p->name, arg);
	if (a->kind)
		return hl_complete(out, ctx, a->kind, prefix, target, limit);
	if (!limit)
		limit = 100;
	hl_buf_dispose(out);
	hl_jw__init(&w, out);
	hl_jw__obj(&w);
	hl_jw__key(&w, "values");
	hl_jw__arr(&w);
	for (char **v = a->values; v && *v; v++)
		if (!plen || !strncasecmp(*v, prefix, plen)) {
			if (n < limit)
				hl_jw__str(&w, *v);
			n++;
		}
	hl_jw__end_arr(&w);
	hl_jw__kint(&w, "total", (int64_t)n);
	hl_jw__kbool(&w, "hasMore", n > limit);
	hl_jw__end_obj(&w);
	if ((err = hl_jw__finish(&w)) < 0)
		hl_buf_dispose(out);
	return err;
}

static bool valid_name(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
		      s[n] == '_' || s[n] == '-'))
			return false;
	return n >= 1 && n <= 64;
}

static void free_prompt(struct hl_prompt *p)
{
	if (!p)
		return;
	for (int a = 0; a < MAX_ARGS; a++) {
		free((char *)p->args[a].name);
		free((char *)p->args[a].description);
		free((char *)p->args[a].kind);
		for (char **v = p->args[a].values; v && *v; v++)
			free(*v);
		free(p->args[a].values);
	}
	free((char *)p->name);
	free((char *)p->title);
	free((char *)p->description);
	free((char *)p->text);
	free((char *)p->arguments_json);
	free(p);
}

/* Copy def's arguments into p; 0 or an error. */
static int copy_args(struct hl_prompt *p, const hl_prompt_def *def)
{
	for (size_t i = 0; i < def->nargs; i++) {
		const hl_prompt_arg *a = &def->args[i];
		size_t nv = 0;
		if (!valid_name(a->name))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument name '%.80s' must match "
			               "^[a-zA-Z0-9_-]{1,64}$", def->name, a->name ? a->name : "(null)");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(def->args[j].name, a->name))
				return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument %s twice", def->name, a->name);
		if (a->kind && strcmp(a->kind, "vm") && strcmp(a->kind, "host") && strcmp(a->kind, "service") &&
		    strcmp(a->kind, "model"))
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument %s: kind '%.40s' is not vm, host, "
			               "service or model", def->name, a->name, a->kind);
		if (a->kind && a->values)
			return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument %s: kind or values, not both",
			               def->name, a->name);
		for (; a->values && a->values[nv]; nv++)
			if (nv == MAX_VALUES)
				return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: argument %s: more than %d values",
				               def->name, a->name, MAX_VALUES);
		p->args[i].required = a->required;
		if (!(p->args[i].name = hl__strdup(a->name)) ||
		    (a->description && !(p->args[i].description = hl__strdup(a->description))) ||
		    (a->kind && !(p->args[i].kind = hl__strdup(a->kind))))
			return HL_ENOMEM;
		if (a->values) {
			if (!(p->args[i].values = hl__calloc(nv + 1, sizeof(char *))))
				return HL_ENOMEM;
			for (size_t j = 0; j < nv; j++)
				if (!(p->args[i].values[j] = hl__strdup(a->values[j])))
					return HL_ENOMEM;
		}
	}
	return 0;
}

int hl_prompt_register(const hl_prompt **out, const hl_prompt_def *def)
{
	struct hl_prompt *p;
	hl_buf args = HL_BUF_INIT;
	int err;

	if (out)
		*out = NULL;
	if (!def || def->version != HL_PROMPT_DEF_VERSION)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "hl_prompt_def: missing, or version not supported");
	if (!valid_name(def->name))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt name '%.80s' must match ^[a-zA-Z0-9_-]{1,64}$",
		               def->name ? def->name : "(null)");
	if (!def->description || !*def->description)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: description is required", def->name);
	if (!def->text == !def->handler)
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: give exactly one of text and handler", def->name);
	if (def->nargs > MAX_ARGS || (def->nargs && !def->args))
		return hl__err(HL_EINVALID, HL_ERROR_INVALID, "prompt %s: at most %d arguments, in args", def->name,
		               MAX_ARGS);
	if (!(p = hl__calloc(1, sizeof(*p))))
		return HL_ENOMEM;
	p->registered = true;
	p->handler = def->handler;
	p->payload = def->payload;
	if ((err = copy_args(p, def)) < 0) {
		free_prompt(p);
		return err;
	}
	p->name = hl__strdup(def->name);
	p->title = hl__strdup(def->title ? def->title : def->name);
	p->description = hl__strdup(def->description);
	p->text = hl__strdup(def->text);
	if (arguments_text(&args, p->args) == 0)
		p->arguments_json = hl_buf__detach(&args);
	hl_buf_dispose(&args);
	if (!p->name || !p->title || !p->description || (def->text && !p->text) || !p->arguments_json) {
		free_prompt(p);
		return HL_ENOMEM;
	}
	pthread_once(&built, build_arguments);
	pthread_mutex_lock(&reg_lock);
	if (hl_prompt_lookup_locked(def->name)) {
		pthread_mutex_unlock(&reg_lock);
		err = hl__err(HL_EEXISTS, HL_ERROR_INVALID, "prompt %s is already in the table", def->name);
		free_prompt(p);
		return err;
	}
	if (reg_tail)
		reg_tail->next = p;
	else
		reg_head = p;
	reg_tail = p;
	pthread_mutex_unlock(&reg_lock);
	if (out)
		*out = p;
	return 0;
}
