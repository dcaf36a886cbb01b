"""An MCP server over stdio (newline-delimited JSON-RPC 2.0), standard
library only. Usage: mcpjail-pyserver DIR  (or python -m mcpjail_pyserver DIR)

Tools:
  write_and_read  writes a file into DIR and reads it back
  run_node        runs `node -v`; reports whether it ran, or which error
                  (FileNotFoundError: absent; PermissionError: denied)
  python_info     where the interpreter and this package are, and whether
                  byte-code writing is off or redirected
"""
import json
import os
import subprocess
import sys

PROTOCOL_VERSION = "2025-06-18"

TOOLS = [
    {
        "name": "write_and_read",
        "description": "Write TEXT to DIR/NAME and read it back",
        "inputSchema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "text": {"type": "string"}},
            "required": ["name", "text"],
        },
    },
    {
        "name": "run_node",
        "description": "Run `node -v` and report what happened",
        "inputSchema": {"type": "object", "properties": {}},
    },
    {
        "name": "python_info",
        "description": "The interpreter, the package's location and the byte-code settings",
        "inputSchema": {"type": "object", "properties": {}},
    },
]


def text_result(payload, is_error=False):
    return {"content": [{"type": "text", "text": json.dumps(payload)}], "isError": is_error}


def write_and_read(directory, args):
    name = os.path.basename(str(args.get("name", "")))
    if not name:
        return text_result({"error": "empty name"}, True)
    path = os.path.join(directory, name)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(str(args.get("text", "")))
        with open(path, encoding="utf-8") as f:
            return text_result({"path": path, "read": f.read()})
    except OSError as e:
        return text_result({"path": path, "error": type(e).__name__, "errno": e.errno}, True)


def run_node():
    # Only the two answers a jail gives are caught: anything else fails loudly.
    try:
        out = subprocess.run(["node", "-v"], capture_output=True, text=True, timeout=20)
    except FileNotFoundError as e:
        return text_result({"ran": False, "exception": "FileNotFoundError", "errno": e.errno})
    except PermissionError as e:
        return text_result({"ran": False, "exception": "PermissionError", "errno": e.errno})
    return text_result({"ran": True, "status": out.returncode, "stdout": out.stdout.strip()})


def python_info():
    import mcpjail_pyserver

    return text_result({
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "package": os.path.dirname(mcpjail_pyserver.__file__),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "pycache_prefix": sys.pycache_prefix,
    })


def handle(directory, msg):
    method = msg.get("method")
    params = msg.get("params") or {}
    if method == "initialize":
        return {
            "protocolVersion": params.get("protocolVersion", PROTOCOL_VERSION),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "mcpjail-pyserver", "version": "1.0.0"},
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        name = params.get("name")
        args = params.get("arguments") or {}
        if name == "write_and_read":
            return write_and_read(directory, args)
        if name == "run_node":
            return run_node()
        if name == "python_info":
            return python_info()
        raise LookupError(f"unknown tool {name}")
    raise NotImplementedError(method)


def main():
    if len(sys.argv) != 2:
        print("usage: mcpjail-pyserver DIR", file=sys.stderr)
        sys.exit(2)
    directory = sys.argv[1]
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            reply = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            print(json.dumps(reply), flush=True)
            continue
        if "id" not in msg:
            continue  # a notification
        try:
            reply = {"jsonrpc": "2.0", "id": msg["id"], "result": handle(directory, msg)}
        except NotImplementedError as e:
            reply = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": f"no method {e}"}}
        except LookupError as e:
            reply = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32602, "message": str(e)}}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
