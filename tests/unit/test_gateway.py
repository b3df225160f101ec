"""The WeChat gateway against the fake WeChat API over real HTTP: each named call goes to WeChat's documented
endpoint with the documented body, and no other module names an endpoint."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _endpoint_calls(path: Path) -> list[tuple[int, str]]:
    """(line, endpoint) of calls like `x.post("tags/create", ...)`: a WeChat path as a string literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("post", "get", "_post", "_get") and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and "/" in node.args[0].value and not node.args[0].value.startswith(("/", "http"))):
            found.append((node.lineno, node.args[0].value))
    return found


def test_only_the_gateway_names_wechat_endpoints():
    sources = [p for folder in ("bot", "handlers") for p in (ROOT / folder).rglob("*.py")]
    elsewhere = {f"{p.relative_to(ROOT)}:{line}": endpoint for p in sources
                 if p.name != "gateway.py" and "devtools" not in p.parts for line, endpoint in _endpoint_calls(p)}
    assert elsewhere == {}
    assert len(_endpoint_calls(ROOT / "bot" / "wechat" / "gateway.py")) >= 5
