"""A hand-written MCP stdio server that ignores the SDK's rules: the hostile far side of from_mcp.

``python raw_server.py TOOLS.json`` answers ``initialize`` (2025-06-18), lists the tools in the
JSON file exactly as written (recursive $refs, absurd sizes, duplicate or invalid names...) and
echoes every call. Any other request gets "method not found", so the SDK client falls back from
its ``server/discover`` probe to the legacy handshake.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        tools = json.load(handle)
    for line in sys.stdin:
        message = json.loads(line)
        if "id" not in message:
            continue  # a notification
        method = message.get("method")
        if method == "initialize":
            result = {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "raw", "version": "0"},
            }
        elif method == "tools/list":
            result = {"tools": tools}
        elif method == "tools/call":
            params = message["params"]
            text = f"{params['name']} got {json.dumps(params.get('arguments'), sort_keys=True)}"
            result = {"content": [{"type": "text", "text": text}]}
        else:
            error = {"code": -32601, "message": f"method not found: {method}"}
            print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": error}), flush=True)
            continue
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)


if __name__ == "__main__":
    main()
