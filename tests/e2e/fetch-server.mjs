#!/usr/bin/env node
// A small MCP server with one tool, `fetch`: GET a URL and return the status
// and body. The network e2e test (fetch.test.mjs) runs it inside
// `mcp-jail run` with network = "allowlist".
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'mcp-jail-fetch', version: '0.0.0' });

server.registerTool(
  'fetch',
  {
    description: 'Fetch a URL with GET; returns the HTTP status and the body (first 64 KiB)',
    inputSchema: { url: z.string().url(), timeout_ms: z.number().int().positive().max(60_000).optional() },
  },
  async ({ url, timeout_ms }) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeout_ms ?? 10_000), redirect: 'manual' });
      const body = (await res.text()).slice(0, 65536);
      return { content: [{ type: 'text', text: `${res.status}\n${body}` }] };
    } catch (err) {
      const cause = err?.cause;
      const detail = [err?.name, err?.message, cause?.code, cause?.message].filter(Boolean).join(': ');
      return { content: [{ type: 'text', text: `fetch failed: ${detail}` }], isError: true };
    }
  },
);

await server.connect(new StdioServerTransport());
