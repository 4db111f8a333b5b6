// The official MCP TypeScript SDK client against homelab-mcpd, over the three
// transports. Prints one JSON line of what it saw; tests/mcp/test_sdk.py
// checks it.
//
//   node sdk_client.mjs --url http://127.0.0.1:PORT --mcpd PATH --db PATH [--token T]
//                       [--only streamable,sse,stdio,streamable_sse] [--concurrent 1]
//
// streamable_sse is the Streamable HTTP client at /sse, as the original
// server's documents configure Open WebUI; --concurrent 1 runs the chosen
// clients at the same time.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

function parseArgs(argv) {
	const out = { only: "streamable,sse,stdio" };
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i];
		if (!k.startsWith("--") || i + 1 >= argv.length) throw new Error(`bad argument ${k}`);
		out[k.slice(2)] = argv[i + 1];
	}
	return out;
}

function errorOf(e) {
	return { code: e && typeof e.code === "number" ? e.code : null, message: String(e && e.message ? e.message : e) };
}

async function exercise(client, transport) {
	const seen = {};
	await client.connect(transport);
	const info = client.getServerVersion();
	seen.server = info ? info.name : null;
	seen.serverVersion = info ? info.version : null;
	seen.capabilities = Object.keys(client.getServerCapabilities() || {}).sort();
	seen.protocolVersion = transport.protocolVersion ?? null;
	seen.sessionId = transport.sessionId ?? null;

	const listed = await client.listTools();
	seen.tools = listed.tools.map((t) => t.name);
	seen.toolsWithOutputSchema = listed.tools.filter((t) => t.outputSchema).length;

	// callTool validates structuredContent against the listed outputSchema
	const vms = await client.callTool({ name: "homelab_list_vms", arguments: {} });
	seen.list_vms = {
		isError: vms.isError ?? null,
		structured: vms.structuredContent ?? null,
		text: vms.content && vms.content[0] ? vms.content[0].text : null,
		contentTypes: (vms.content || []).map((c) => c.type),
	};
	const vm = await client.callTool({ name: "homelab_get_vm", arguments: { name: "whisper" } });
	seen.get_vm = {
		isError: vm.isError ?? null,
		structured: vm.structuredContent ?? null,
		text: vm.content && vm.content[0] ? vm.content[0].text : null,
	};
	// onprogress makes the SDK send a progressToken; the daemon reports after each service
	const progress = [];
	const checked = await client.callTool(
		{ name: "homelab_check_all_services", arguments: { timeout_s: 2 } }, undefined,
		{ onprogress: (p) => progress.push(p) });
	seen.check_all = { isError: checked.isError ?? null, structured: checked.structuredContent ?? null, progress };
	const bad = await client.callTool({ name: "homelab_get_vm", arguments: { name: "nosuch" } });
	seen.failing = {
		isError: bad.isError ?? null,
		text: bad.content && bad.content[0] ? bad.content[0].text : null,
	};
	try {
		await client.callTool({ name: "no_such_tool", arguments: {} });
		seen.unknown_tool = { threw: false };
	} catch (e) {
		seen.unknown_tool = { threw: true, ...errorOf(e) };
	}
	// resources, prompts and completion, as Claude Desktop-style clients use them
	const resources = await client.listResources();
	seen.resources = resources.resources.map((r) => r.uri);
	seen.resourceTemplates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
	const read = await client.readResource({ uri: "homelab://vms/whisper" });
	seen.readWhisper = { mimeType: read.contents[0].mimeType, json: JSON.parse(read.contents[0].text) };
	seen.prompts = (await client.listPrompts()).prompts.map((p) => ({ name: p.name, args: (p.arguments || []).map((a) => a.name) }));
	const prompt = await client.getPrompt({ name: "diagnose_vm", arguments: { vm: "whisper" } });
	seen.diagnose = prompt.messages.map((m) => ({ role: m.role, type: m.content.type, text: m.content.text }));
	const done = await client.complete({ ref: { type: "ref/prompt", name: "diagnose_vm" }, argument: { name: "vm", value: "s" } });
	seen.completeVm = done.completion;
	seen.ping = await client.ping();
	if (transport instanceof StreamableHTTPClientTransport) {
		await transport.terminateSession();
		seen.terminated = transport.sessionId ?? null;
	}
	await client.close();
	return seen;
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const only = new Set(args.only.split(","));
	const headers = args.token ? { Authorization: `Bearer ${args.token}` } : {};
	const result = {};
	const clientInfo = { name: "homelab-sdk-test", version: "1.0.0" };
	const pending = [];
	const run = async (key, makeTransport) => {
		if (!only.has(key)) return;
		const one = (async () => {
			try {
				result[key] = await exercise(new Client(clientInfo), makeTransport());
			} catch (e) {
				result[key] = { failed: errorOf(e) };
			}
		})();
		if (args.concurrent === "1") pending.push(one);
		else await one;
	};
	await run("streamable", () => new StreamableHTTPClientTransport(new URL("/mcp", args.url), { requestInit: { headers } }));
	await run("streamable_sse", () => new StreamableHTTPClientTransport(new URL("/sse", args.url), { requestInit: { headers } }));
	await run("sse", () => new SSEClientTransport(new URL("/sse", args.url), {
		requestInit: { headers },
		eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers || {}), ...headers } }) },
	}));
	let stdioErr = "";
	await run("stdio", () => {
		const t = new StdioClientTransport({
			command: args.mcpd, args: ["--stdio", "--db", args.db], stderr: "pipe",
			env: { PATH: process.env.PATH || "/usr/bin:/bin",
				...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
				...(process.env.UBSAN_OPTIONS ? { UBSAN_OPTIONS: process.env.UBSAN_OPTIONS } : {}) },
		});
		t.stderr.on("data", (d) => { stdioErr += d.toString(); });
		return t;
	});
	await Promise.all(pending);
	if (result.stdio) result.stdio.stderr = stdioErr;
	process.stdout.write(JSON.stringify(result) + "\n");
}

main().then(() => process.exit(0), (e) => {
	process.stdout.write(JSON.stringify({ fatal: errorOf(e) }) + "\n");
	process.exit(1);
});
