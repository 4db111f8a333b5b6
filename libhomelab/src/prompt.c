/*
 * prompt.c: the prompt table (see homelab/prompt.h). A prompt is a text with
 * {argument} placeholders; arguments are declared as MCP shows them, with
 * the kind of name each one takes for completion.
 */
#include "hl.h"
#include "json.h"
#include "jw.h"

#include <homelab/prompt.h>

#include <pthread.h>
#include <string.h>

#define MAX_ARGS 4

struct prompt_arg {
	const char *name, *description, *kind; /* kind: for completion; NULL: free text */
	bool required;
};

struct hl_prompt {
	const char *name, *title, *description;
	struct prompt_arg args[MAX_ARGS];
	const char *arguments_json; /* built from args on first use */
	const char *text;
};

#define ARG(n, d, k, r) { n, d, k, r }

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
	  "Only read: change nothing without asking me first." },
	{ "gpu_report", "GPU report",
	  "How the GPUs of a VM are used: memory, load, temperature, power, the processes and the models loaded.",
	  { ARG("target", "the VM's name or vm_id (default: the default target)", "vm", false) }, NULL,
	  "Report on the GPUs of {target}: call whisper_gpu_status (target {target}) and "
	  "ollama_running_models (target {target}). For each GPU give its memory used and free, load, "
	  "temperature and power against its limit, and which processes and models use it. Say plainly "
	  "whether there is room for another model." },
	{ "tune_modelfile", "Tune a Modelfile",
	  "Change an Ollama model's Modelfile (a parameter, the system prompt, the template) and create the new model.",
	  { ARG("model", "the Ollama model, e.g. gemma:2b", "model", true),
	    ARG("change", "what to change, e.g. set temperature to 0.6", NULL, true) }, NULL,
	  "Show me the Modelfile of the Ollama model {model} (ollama_show_model), then change it: {change}. "
	  "Show me the new Modelfile and, once I agree, create it with ollama_create_model under a new name "
	  "(for example {model} with a suffix), so the original stays as it is." },
	{ "inventory_overview", "Inventory overview",
	  "An overview of the homelab: hosts, VMs, services and their health.",
	  { { NULL, NULL, NULL, false } }, NULL,
	  "Give me an overview of my homelab: the Proxmox hosts (homelab_list_hosts), the VMs by status "
	  "(homelab_list_vms), the services (homelab_list_services) and their health "
	  "(homelab_check_all_services). Point out anything stopped, unhealthy or unusual." },
};
#define NPROMPTS (sizeof(table) / sizeof(table[0]))

static pthread_once_t built = PTHREAD_ONCE_INIT;
static hl_buf arg_texts[NPROMPTS];

static void build_arguments(void)
{
	for (size_t i = 0; i < NPROMPTS; i++) {
		hl_jw w;
		hl_jw__init(&w, &arg_texts[i]);
		hl_jw__arr(&w);
		for (int a = 0; a < MAX_ARGS && table[i].args[a].name; a++) {
			hl_jw__obj(&w);
			hl_jw__kstr(&w, "name", table[i].args[a].name);
			hl_jw__kstr(&w, "description", table[i].args[a].description);
			hl_jw__kbool(&w, "required", table[i].args[a].required);
			hl_jw__end_obj(&w);
		}
		hl_jw__end_arr(&w);
		table[i].arguments_json = hl_jw__finish(&w) == 0 ? arg_texts[i].ptr : "[]";
	}
}

const hl_prompt *hl_prompt_next(const hl_prompt *prev)
{
	pthread_once(&built, build_arguments);
	if (!prev)
		return table;
	return prev + 1 < table + NPROMPTS ? prev + 1 : NULL;
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
			v = "the default target";
		if (hl_buf__put(out, v, strlen(v)) < 0)
			return HL_ENOMEM;
		s = close + 1;
	}
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
