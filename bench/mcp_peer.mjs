// bench/mcp_peer.mjs: the peer of bench/mcp_bench.py, an MCP server written
// the way a typical one is with the official TypeScript SDK: McpServer +
// StreamableHTTPServerTransport (one of each per session, JSON answers), on
// node:http, 127.0.0.1 only, with the inventory loaded into memory.
//
//   node bench/mcp_peer.mjs --modules DIR --inventory FILE --tools FILE --port-file FILE
//
// DIR is a node_modules holding @modelcontextprotocol/sdk and zod
// (tests/mcp/node_modules). FILE --inventory is a JSON dump of the
// database's hosts, VMs and network_config rows (mcp_bench.py writes it);
// --tools is homelab-mcpd's own tools/list result: every tool is registered
// with McpServer from the same JSON Schemas (converted to zod, as an SDK
// server declares them), so tools/list describes the same tools.
// homelab_lookup_ip and homelab_list_vms answer what homelab-mcpd answers
// (same text, same structuredContent); the other tools are declared only.
// When $MCP_PEER_TOKEN is set, every request needs "Authorization: Bearer
// $MCP_PEER_TOKEN" (a string compare: cheaper than homelab-mcpd's check).
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const mod = (p) => import(pathToFileURL(join(args.modules, p)).href);
const { McpServer } = await mod("@modelcontextprotocol/sdk/dist/esm/server/mcp.js");
const { StreamableHTTPServerTransport } = await mod("@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js");
const { isInitializeRequest } = await mod("@modelcontextprotocol/sdk/dist/esm/types.js");
const z = await mod("zod/v4/index.js");

const inv = JSON.parse(readFileSync(args.inventory, "utf8"));
const tools = JSON.parse(readFileSync(args.tools, "utf8")).tools;
const bearer = process.env.MCP_PEER_TOKEN ? `Bearer ${process.env.MCP_PEER_TOKEN}` : null;

// The inventory, indexed the way the tools need it.
const hostById = new Map(), hostByName = new Map(), hostByIp = new Map();
for (const h of inv.hosts) {
	hostById.set(h.id, h);
	hostByName.set(h.node_name.toLowerCase(), h);
	if (h.ip_address) hostByIp.set(h.ip_address, h);
}
const vmCount = new Map();
const vms = inv.vms.sort((a, b) => a.vm_id - b.vm_id);
const vmByIp = new Map(), vmsByHost = new Map();
for (const v of vms) {
	if (v.ip && !vmByIp.has(v.ip)) vmByIp.set(v.ip, v);
	vmCount.set(v.host_id, (vmCount.get(v.host_id) || 0) + 1);
	if (!vmsByHost.has(v.host_id)) vmsByHost.set(v.host_id, []);
	vmsByHost.get(v.host_id).push(v);
}
const allocByIp = new Map(inv.network.map((n) => [n.ip_address, n]));

const vmOut = (v) => ({
	vm_id: v.vm_id, name: v.name, ip: v.ip, status: v.status, host_id: v.host_id,
	host: hostById.get(v.host_id)?.node_name ?? null, ssh_user: v.ssh_user, ssh_port: v.ssh_port,
});
const result = (obj) => ({ content: [{ type: "text", text: JSON.stringify(obj) }], structuredContent: obj });
const failure = (text) => ({ content: [{ type: "text", text }], isError: true });

const handlers = {
	homelab_lookup_ip: ({ ip }) => {
		const out = { ip, held_by: [] }, v = vmByIp.get(ip), h = hostByIp.get(ip), a = allocByIp.get(ip);
		if (v) { out.held_by.push("vm"); out.vm = vmOut(v); }
		if (h) {
			out.held_by.push("host");
			out.host = { id: h.id, node_name: h.node_name, ip_address: h.ip_address, vm_count: vmCount.get(h.id) || 0 };
		}
		if (a) {
			out.held_by.push("allocation");
			out.allocation = { ip_address: a.ip_address, hostname: a.hostname, allocated_to: a.allocated_to, type: a.type };
		}
		return result(out);
	},
	homelab_list_vms: ({ status, host }) => {
		let list = vms;
		if (host !== undefined) {
			const h = /^[0-9]+$/.test(host) ? hostById.get(Number(host)) : hostByName.get(host.toLowerCase());
			if (!h) return failure(`no such host: ${host}`);
			list = vmsByHost.get(h.id) || [];
		}
		if (status !== undefined) list = list.filter((v) => v.status === status);
		const out = list.map(vmOut);
		return result({ vms: out, count: out.length });
	},
};

// The schemas once (zod from the same JSON Schemas), the servers per session.
const declared = tools.map((t) => ({
	name: t.name,
	config: {
		title: t.title, description: t.description, annotations: t.annotations,
		inputSchema: z.fromJSONSchema(t.inputSchema),
		outputSchema: t.outputSchema ? z.fromJSONSchema(t.outputSchema) : undefined,
	},
}));

function newServer() {
	const server = new McpServer({ name: "bench-peer", version: "1.0.0" });
	for (const t of declared)
		server.registerTool(t.name, t.config, async (a) =>
			handlers[t.name] ? handlers[t.name](a) : failure(`${t.name} is not served by the benchmark peer`));
	return server;
}

const transports = new Map();

async function readJson(req) {
	const chunks = [];
	for await (const c of req) chunks.push(c);
	return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const http = createServer(async (req, res) => {
	try {
		if (bearer && req.headers.authorization !== bearer) {
			res.writeHead(401, { "Content-Type": "application/json" }).end('{"error":"invalid_token"}');
			return;
		}
		const sid = req.headers["mcp-session-id"];
		if (sid && transports.has(sid)) {
			const body = req.method === "POST" ? await readJson(req) : undefined;
			await transports.get(sid).handleRequest(req, res, body);
			return;
		}
		if (!sid && req.method === "POST") {
			const body = await readJson(req);
			if (isInitializeRequest(body)) {
				const transport = new StreamableHTTPServerTransport({
					sessionIdGenerator: () => randomUUID(),
					enableJsonResponse: true,
					onsessioninitialized: (id) => transports.set(id, transport),
				});
				transport.onclose = () => {
					if (transport.sessionId) transports.delete(transport.sessionId);
				};
				await newServer().connect(transport);
				await transport.handleRequest(req, res, body);
				return;
			}
		}
		res.writeHead(sid ? 404 : 400, { "Content-Type": "application/json" })
			.end('{"jsonrpc":"2.0","error":{"code":-32000,"message":"no valid session"},"id":null}');
	} catch (e) {
		if (!res.headersSent) res.writeHead(500).end(String(e));
	}
});
http.keepAliveTimeout = 5000;
http.listen(0, "127.0.0.1", () => writeFileSync(args["port-file"], `${http.address().port}\n`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => http.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500));
