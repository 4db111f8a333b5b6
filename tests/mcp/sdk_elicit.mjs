// The official MCP TypeScript SDK client with an elicitation handler, against
// homelab-mcpd: it calls one tool and answers the daemon's questions
// (elicitation/create) as told. Prints one JSON line of what it saw;
// tests/mcp/test_elicitation.py and test_cancel.py check it.
//
//   node sdk_elicit.mjs --transport streamable|sse|stdio --tool NAME [--args JSON]
//                       [--url http://127.0.0.1:PORT] [--token T] [--mcpd PATH --db PATH --env JSON]
//                       [--answer accept|decline|cancel|die|none] [--no-elicitation 1]
//                       [--abort-after-ms N] [--then NAME]
//
// --answer die: the process exits as soon as it is asked (after printing
// what it saw); none: it declares elicitation and never answers.
// --no-elicitation 1: the client does not declare the capability.
// --abort-after-ms: the call is cancelled (AbortSignal: the SDK sends
// notifications/cancelled) after N ms. --then: one more call after it, on
// the same connection, to show the daemon still answers.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

function parseArgs(argv) {
	const out = { answer: "accept", args: "{}" };
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

function resultOf(r) {
	return { isError: r.isError ?? null, structured: r.structuredContent ?? null,
		text: r.content && r.content[0] ? r.content[0].text : null };
}

const a = parseArgs(process.argv.slice(2));
const seen = { asked: [], result: null, error: null, then: null, elapsed_ms: null };
const headers = a.token ? { Authorization: `Bearer ${a.token}` } : {};
const capabilities = a["no-elicitation"] ? {} : { elicitation: {} };
const client = new Client({ name: "homelab-elicit-test", version: "1.0.0" }, { capabilities });

if (!a["no-elicitation"]) {
	client.setRequestHandler(ElicitRequestSchema, async (req) => {
		seen.asked.push({ message: req.params.message, requestedSchema: req.params.requestedSchema ?? null });
		if (a.answer === "die") {
			process.stdout.write(JSON.stringify(seen) + "\n");
			process.exit(3);
		}
		if (a.answer === "none")
			return new Promise(() => {}); // never answers
		return a.answer === "accept" ? { action: "accept", content: {} } : { action: a.answer };
	});
}

let transport;
if (a.transport === "streamable") {
	transport = new StreamableHTTPClientTransport(new URL("/mcp", a.url), { requestInit: { headers } });
} else if (a.transport === "sse") {
	transport = new SSEClientTransport(new URL("/sse", a.url), {
		requestInit: { headers },
		eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers || {}), ...headers } }) },
	});
} else if (a.transport === "stdio") {
	const env = { ...process.env, ...(a.env ? JSON.parse(a.env) : {}) };
	transport = new StdioClientTransport({ command: a.mcpd, args: ["--stdio", "--db", a.db,
		...(a["mcpd-args"] ? JSON.parse(a["mcpd-args"]) : [])], env, stderr: "inherit" });
} else {
	throw new Error(`unknown transport ${a.transport}`);
}

try {
	await client.connect(transport);
	const opts = { timeout: 60000 };
	if (a["abort-after-ms"]) {
		const ctl = new AbortController();
		setTimeout(() => ctl.abort("the test gave up"), Number(a["abort-after-ms"]));
		opts.signal = ctl.signal;
	}
	const t0 = Date.now();
	try {
		seen.result = resultOf(await client.callTool({ name: a.tool, arguments: JSON.parse(a.args) }, undefined, opts));
	} catch (e) {
		seen.error = errorOf(e);
	}
	seen.elapsed_ms = Date.now() - t0;
	if (a.then)
		seen.then = resultOf(await client.callTool({ name: a.then, arguments: {} }, undefined, { timeout: 20000 }));
} catch (e) {
	seen.error = seen.error ?? errorOf(e);
}
await client.close().catch(() => {});
process.stdout.write(JSON.stringify(seen) + "\n");
process.exit(0);
