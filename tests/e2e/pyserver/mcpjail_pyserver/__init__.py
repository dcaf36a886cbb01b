"""A stdlib-only MCP server for the mcp-jail end-to-end tests."""
