/*
 * cmd_creds.c: `homelab creds get|set|list|rm|keygen|migrate|rotate-key`.
 *
 * Secrets never come from the command line: a password is read from a
 * no-echo prompt on the terminal or from the first line of stdin, a new key
 * from a file or stdin (or generated). Buffers that held one are wiped, and
 * the process is made non-dumpable so that a core dump cannot carry them.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define SECRET_MAX 4096

/* Read one line (without its newline) from fd into buf. -1 on EOF before
 * anything was read or on a read error; -2 when the line does not fit (a
 * secret is never cut short silently). */
static int read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	bool too_long = false;
	char ch;
	ssize_t r;

	while ((r = read(fd, &ch, 1)) == 1 || (r < 0 && errno == EINTR)) {
		if (r < 0)
			continue;
		if (ch == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = ch;
		else
			too_long = true;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (too_long) {
		explicit_bzero(buf, size);
		return -2;
	}
	return r < 0 || (r == 0 && n == 0) ? -1 : 0;
}

/* Prompt on the terminal with echo off. */
static int prompt_no_echo(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &old) < 0) {
		close(fd);
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		close(fd);
		return -1;
	}
	rc = read_line(fd, buf, size);
	tcsetattr(fd, TCSAFLUSH, &old);
	close(fd);
	return rc;
}

/* A password: prompted twice on a terminal, else the first line of stdin. */
static int read_password(const char *target, char *buf, size_t size)
{
	char again[SECRET_MAX + 1], prompt[300];
	int rc = 0;

	if (!isatty(STDIN_FILENO)) {
		rc = read_line(STDIN_FILENO, buf, size);
		if (rc == -2)
			return cli_usage_error("the password is longer than %d bytes", SECRET_MAX);
		if (rc < 0)
			return cli_usage_error("no password on stdin (give it as the first line)");
		return CLI_OK;
	}
	snprintf(prompt, sizeof(prompt), "Password for %s: ", target);
	if ((rc = prompt_no_echo(prompt, buf, size)) == -2 || (rc == 0 && (rc = prompt_no_echo("Again: ", again,
	                                                                                       sizeof(again))) == -2))
		rc = cli_usage_error("the password is longer than %d bytes", SECRET_MAX);
	else if (rc < 0)
		rc = cli_usage_error("cannot read a password from the terminal");
	else if (strcmp(buf, again) != 0)
		rc = cli_usage_error("the passwords do not match");
	explicit_bzero(again, sizeof(again));
	return rc;
}

static int creds_get(struct cli *c, int argc, char **argv)
{
	struct cli_args a;
	char pair[200];
	const char *pairs[1] = { pair };
	int rc;

	if ((rc = cli_parse(&a, argc, argv, NULL)) != CLI_OK)
		return rc;
	if (a.npos != 1)
		return cli_usage_error("usage: homelab creds get TARGET");
	if (!cli_ctx(c, &rc))
		return rc;
	snprintf(pair, sizeof(pair), "target=%s", a.pos[0]);
	return cli_call_tool(c, "homelab_get_credentials", 1, pairs);
}

static int creds_set(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "user=", "key-path=", "auth-type=", "password", "clear-password", NULL };
	hl_credential_spec s = HL_CREDENTIAL_SPEC_INIT;
	hl_credential *cred = NULL;
	struct cli_args a;
	char pw[SECRET_MAX + 1];
	hl_ctx *ctx;
	int rc, err;

	if ((rc = cli_parse(&a, argc, argv, spec)) != CLI_OK)
		return rc;
	if (a.npos != 1)
		return cli_usage_error("usage: homelab creds set TARGET [--user U] [--key-path PATH] [--auth-type T] "
		                       "[--password | --clear-password]");
	if (cli_flag(&a, "password") && cli_flag(&a, "clear-password"))
		return cli_usage_error("give --password or --clear-password, not both");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	s.username = cli_opt(&a, "user");
	s.ssh_key_path = cli_opt(&a, "key-path");
	s.auth_type = cli_opt(&a, "auth-type");
	if (cli_flag(&a, "clear-password"))
		s.password = "";
	if (cli_flag(&a, "password")) {
		/* Check the key before asking for a password it could not store. */
		if ((err = hl_vault_unlock(ctx)) < 0)
			return cli_fail(err);
		if ((rc = read_password(a.pos[0], pw, sizeof(pw))) != CLI_OK) {
			explicit_bzero(pw, sizeof(pw));
			return rc;
		}
		if (!*pw) {
			explicit_bzero(pw, sizeof(pw));
			return cli_usage_error("the password is empty (use --clear-password to remove one)");
		}
		s.password = pw;
	}
	err = hl_vault_set(&cred, ctx, a.pos[0], &s);
	explicit_bzero(pw, sizeof(pw));
	if (err < 0)
		return cli_fail(err);
	if (c->json)
		printf("{\"id\":%lld,\"target_type\":\"%s\",\"target_id\":%lld,\"format\":\"%s\"}\n", (long long)cred->id,
		       cred->target_type, (long long)cred->target_id, hl_cred_format_name(cred->format));
	else
		printf("stored credentials of %s:%s (id %lld, password: %s)\n", cred->target_type,
		       cred->target_name ? cred->target_name : "?", (long long)cred->id,
		       cred->format == HL_CRED_FORMAT_NONE ? "none" : "encrypted");
	hl_credential_free(cred);
	return CLI_OK;
}

static int creds_list(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "type=", NULL };
	hl_credential_array *list = NULL;
	struct json_object *o, *arr;
	struct cli_args a;
	hl_ctx *ctx;
	int rc, err;

	if ((rc = cli_parse(&a, argc, argv, spec)) != CLI_OK)
		return rc;
	if (a.npos)
		return cli_usage_error("usage: homelab creds list [--type vm|host|service]");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if ((err = hl_vault_list(&list, ctx, cli_opt(&a, "type"))) < 0)
		return cli_fail(err);
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < list->count; i++) {
		const hl_credential *cr = list->items[i];
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_int64(cr->id));
		json_object_object_add(e, "target_type", json_object_new_string(cr->target_type));
		json_object_object_add(e, "target_id", json_object_new_int64(cr->target_id));
		json_object_object_add(e, "target_name", cli_jstr(cr->target_name));
		json_object_object_add(e, "username", cli_jstr(cr->username));
		json_object_object_add(e, "auth_type", cli_jstr(cr->auth_type));
		json_object_object_add(e, "ssh_key_path", cli_jstr(cr->ssh_key_path));
		json_object_object_add(e, "password", json_object_new_string(hl_cred_format_name(cr->format)));
		json_object_object_add(e, "key_id", cli_jstr(cr->key_id));
		/* sealed: the row's fields are authenticated (checked by creds get, not by this list) */
		json_object_object_add(e, "sealed", json_object_new_boolean(cr->sealed));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "credentials", arr);
	json_object_object_add(o, "count", json_object_new_int64((int64_t)list->count));
	cli_print_object(c, o);
	hl_credential_array_free(list);
	return CLI_OK;
}

static int creds_rm(struct cli *c, int argc, char **argv)
{
	struct cli_args a;
	hl_ctx *ctx;
	int rc, err;

	if ((rc = cli_parse(&a, argc, argv, NULL)) != CLI_OK)
		return rc;
	if (a.npos != 1)
		return cli_usage_error("usage: homelab creds rm TARGET");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if (!cli_confirm(c, "Remove the credentials of %s?", a.pos[0]))
		return CLI_ERROR;
	if ((err = hl_vault_remove(ctx, a.pos[0])) < 0)
		return cli_fail(err);
	cli_done(c, "removed", "the credentials of", a.pos[0]);
	return CLI_OK;
}

/* Write key text to a new file of mode 0600 (never over an existing one). */
static int write_key_file(const char *path, const char *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t n = strlen(key);
	bool ok;

	if (fd < 0) {
		fprintf(stderr, "homelab: cannot create %s: %s\n", path, strerror(errno));
		return CLI_ERROR;
	}
	ok = write(fd, key, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
	ok = fsync(fd) == 0 && ok;
	ok = close(fd) == 0 && ok;
	if (!ok) {
		fprintf(stderr, "homelab: cannot write %s: %s\n", path, strerror(errno));
		unlink(path);
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int creds_keygen(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "file=", NULL };
	char key[HL_VAULT_KEY_TEXT_SIZE];
	struct cli_args a;
	const char *file;
	int rc, err;

	(void)c;
	if ((rc = cli_parse(&a, argc, argv, spec)) != CLI_OK)
		return rc;
	if (a.npos)
		return cli_usage_error("usage: homelab creds keygen [--file PATH]");
	if ((err = hl_vault_keygen(key, sizeof(key))) < 0)
		return cli_fail(err);
	if ((file = cli_opt(&a, "file"))) {
		rc = write_key_file(file, key);
		if (rc == CLI_OK)
			fprintf(stderr, "wrote a new key to %s; use HOMELAB_DB_KEY=file:%s\n", file, file);
	} else {
		puts(key);
		rc = fflush(stdout) == 0 && !ferror(stdout) ? CLI_OK : CLI_ERROR;
	}
	explicit_bzero(key, sizeof(key));
	return rc;
}

static int creds_migrate(struct cli *c, int argc, char **argv)
{
	hl_ctx *ctx;
	size_t n = 0;
	int rc, err;

	(void)argv;
	if (argc)
		return cli_usage_error("usage: homelab creds migrate");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if ((err = hl_vault_migrate(ctx, &n)) < 0)
		return cli_fail(err);
	if (c->json)
		printf("{\"migrated\":%zu}\n", n);
	else
		printf("sealed %zu credential%s of an older format (Fernet, v1, or no password) in the current one\n", n,
		       n == 1 ? "" : "s");
	return CLI_OK;
}

static int creds_rotate(struct cli *c, int argc, char **argv)
{
	static const char *const spec[] = { "new-key-file=", "new-key-stdin", "write-key-file=", NULL };
	char key[SECRET_MAX + 16];
	const char *newfile, *out;
	struct cli_args a;
	hl_ctx *ctx;
	size_t n = 0;
	int rc, err;

	if ((rc = cli_parse(&a, argc, argv, spec)) != CLI_OK)
		return rc;
	newfile = cli_opt(&a, "new-key-file");
	out = cli_opt(&a, "write-key-file");
	if (a.npos || (newfile && cli_flag(&a, "new-key-stdin")) || (out && (newfile || cli_flag(&a, "new-key-stdin"))))
		return cli_usage_error("usage: homelab creds rotate-key [--new-key-file PATH | --new-key-stdin | "
		                       "--write-key-file PATH]");
	if (!(ctx = cli_ctx(c, &rc)))
		return rc;
	if ((err = hl_vault_unlock(ctx)) < 0)
		return cli_fail(err);
	if (newfile) {
		snprintf(key, sizeof(key), "file:%s", newfile);
	} else if (cli_flag(&a, "new-key-stdin")) {
		if (read_line(STDIN_FILENO, key, sizeof(key)) < 0)
			return cli_usage_error("no key on stdin");
	} else {
		/* A generated key is saved before anything is re-encrypted under it. */
		if ((err = hl_vault_keygen(key, sizeof(key))) < 0)
			return cli_fail(err);
		if (out) {
			rc = write_key_file(out, key);
		} else {
			printf("%s\n", key);
			rc = fflush(stdout) == 0 && !ferror(stdout) ? CLI_OK : CLI_ERROR;
		}
		if (rc != CLI_OK) {
			explicit_bzero(key, sizeof(key));
			return rc;
		}
	}
	if (!cli_confirm(c, "Re-encrypt every credential under the new key?")) {
		explicit_bzero(key, sizeof(key));
		return CLI_ERROR;
	}
	err = hl_vault_rotate_key(ctx, key, &n);
	explicit_bzero(key, sizeof(key));
	if (err < 0)
		return cli_fail(err);
	fprintf(stderr, "re-encrypted %zu credential%s under the new key; set HOMELAB_DB_KEY to %s now\n", n,
	        n == 1 ? "" : "s", newfile ? "file:<the new key file>" : out ? "file:<the key file>" : "the new key");
	return CLI_OK;
}

int cmd_creds(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} subs[] = {
		{ "get", creds_get }, { "set", creds_set }, { "list", creds_list }, { "rm", creds_rm },
		{ "keygen", creds_keygen }, { "migrate", creds_migrate }, { "rotate-key", creds_rotate },
	};

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(c, argc - 2, argv + 2);
	return cli_usage_error("unknown subcommand 'creds %s' (try 'homelab creds --help')", argv[1]);
}
