// The official MCP TypeScript SDK client pulling an Ollama model through
// homelab-mcpd (Streamable HTTP): prints one JSON line with the progress
// notifications it got and the tool's result or the error it threw.
// tests/mcp/test_ollama.py checks it.
//
//   node sdk_ollama.mjs --url http://127.0.0.1:PORT --token T --model NAME
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const opt = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) opt[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];

const out = { progress: [], result: null, error: null };
const client = new Client({ name: "homelab-ollama-test", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL("/mcp", opt.url),
	{ requestInit: { headers: { Authorization: `Bearer ${opt.token}` } } });
try {
	await client.connect(transport);
	const r = await client.callTool({ name: "ollama_pull_model", arguments: { model_name: opt.model } }, undefined,
		{ onprogress: (p) => out.progress.push(p), timeout: 30000 });
	out.result = { isError: r.isError ?? null, structured: r.structuredContent ?? null,
		text: r.content && r.content[0] ? r.content[0].text : null };
} catch (e) {
	out.error = { code: e && typeof e.code === "number" ? e.code : null, message: String(e && e.message ? e.message : e) };
}
await client.close().catch(() => {});
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
