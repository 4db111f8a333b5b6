// bench/ssh_mcp_client.mjs: the official MCP SDK client (from tests/mcp/node_modules)
// over stdio: starts a server command, lists its tools, calls one tool N times
// one after the other, and prints one JSON line with each call's time in ms.
//
//   node ssh_mcp_client.mjs N TOOL ARGS_JSON -- SERVER_COMMAND...
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = path.join(here, "..", "tests", "mcp", "node_modules", "@modelcontextprotocol", "sdk", "dist", "esm");
const { Client } = await import(path.join(sdk, "client", "index.js"));
const { StdioClientTransport } = await import(path.join(sdk, "client", "stdio.js"));

const argv = process.argv.slice(2);
const sep = argv.indexOf("--");
const [n, tool, argsJson] = argv.slice(0, sep);
const [command, ...args] = argv.slice(sep + 1);
const out = { tools: [], times_ms: [], first: null, error: null };
const client = new Client({ name: "homelab-bench-ssh", version: "1.0.0" });
const transport = new StdioClientTransport({ command, args, env: process.env, stderr: "ignore" });
try {
	await client.connect(transport);
	out.tools = (await client.listTools()).tools.map((t) => t.name);
	const call = async () => client.callTool({ name: tool, arguments: JSON.parse(argsJson) }, undefined, { timeout: 30000 });
	const warm = await call();  // the first call pays the handshake
	out.first = warm.content && warm.content[0] ? warm.content[0].text : null;
	for (let i = 0; i < Number(n); i++) {
		const t = process.hrtime.bigint();
		const r = await call();
		out.times_ms.push(Number(process.hrtime.bigint() - t) / 1e6);
		if (r.isError) throw new Error("tool error: " + JSON.stringify(r.content));
	}
} catch (e) {
	out.error = String(e && e.message ? e.message : e);
}
await client.close().catch(() => {});
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
