"""A small Go text/template engine: the subset the reelscope chart uses, nothing guessed.

Supported: `{{- -}}` trimming, comments, `if`/`else if`/`else`, `range` (with `$k, $v :=`),
`with`, `define`, `$var :=`, pipelines with `|`, parenthesised arguments, `.Field` chains and
calls of function values (`.Files.Get "f"`). Anything else (an unknown function, a missing
value, comparing a float64 with an int) is an error: stricter than Helm, never more lenient.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.helm.gofmt import go_str

_ACTION = re.compile(r"\{\{(-\s+)?(.*?)(\s+-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<decl>:=)|(?P<punct>[|(),])
    |(?P<num>-?\d+(?:\.\d+)?)|(?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    |(?P<field>(?:\.[A-Za-z0-9_]+)+|\.)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))""",
    re.X,
)
_BLOCKS = ("if", "range", "with", "define")


class TemplateError(Exception):
    """The template uses something this engine does not support, or fails to execute."""


Token = tuple[str, str]
Operand = tuple[str, Any]
Command = list[Operand]


@dataclass
class Pipeline:
    decl: list[str]
    commands: list[Command]


@dataclass
class Node:
    kind: str  # text | action | if | range | with
    text: str = ""
    pipe: Pipeline | None = None
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


def _tokens(source: str) -> list[Token]:
    out: list[Token] = []
    pos, source = 0, source.strip()
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            msg = f"cannot parse {source[pos:]!r} in {{{{ {source} }}}}"
            raise TemplateError(msg)
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _lex(source: str) -> Iterator[tuple[str, str]]:
    """Yield ("text", s) and ("action", body) items, with the trim markers applied."""
    pos, trim_next = 0, False
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        text = text.lstrip() if trim_next else text
        yield "text", text.rstrip() if m.group(1) else text
        if not m.group(2).strip().startswith("/*"):
            yield "action", m.group(2)
        pos, trim_next = m.end(), bool(m.group(3))
    tail = source[pos:]
    yield "text", tail.lstrip() if trim_next else tail


class _Parser:
    def __init__(self, source: str, defines: dict[str, list[Node]]) -> None:
        self.items = list(_lex(source))
        self.pos = 0
        self.defines = defines

    def parse(self, until: tuple[str, ...] = ()) -> tuple[list[Node], str]:
        nodes: list[Node] = []
        while self.pos < len(self.items):
            kind, body = self.items[self.pos]
            self.pos += 1
            if kind == "text":
                nodes.append(Node("text", text=body))
                continue
            toks = _tokens(body)
            word = toks[0][1] if toks[0][0] == "ident" else ""
            if word in ("end", "else"):
                if word not in until:
                    msg = f"unexpected {{{{ {body.strip()} }}}}"
                    raise TemplateError(msg)
                return nodes, body
            if word in _BLOCKS:
                node = self._block(word, toks[1:])
                if node is not None:
                    nodes.append(node)
            else:
                nodes.append(Node("action", pipe=_pipeline(toks)))
        if until:
            msg = f"missing {{{{ end }}}} (expected one of {until})"
            raise TemplateError(msg)
        return nodes, ""

    def _block(self, word: str, toks: list[Token]) -> Node | None:
        if word == "define":
            body, _ = self.parse(("end",))
            self.defines[toks[0][1].strip('"')] = body
            return None
        node = Node(word, pipe=_pipeline(toks))
        node.body, stop = self.parse(("end", "else"))
        rest = _tokens(stop)[1:] if stop.strip().startswith("else") else []
        if rest and rest[0] == ("ident", "if"):  # else if: a nested if in the else branch
            node.orelse = [self._block("if", rest[1:]) or Node("text")]
        elif stop.strip().startswith("else"):
            node.orelse, _ = self.parse(("end",))
        return node


def _pipeline(toks: list[Token]) -> Pipeline:
    decl: list[str] = []
    if any(t == ("decl", ":=") for t in toks):
        split = toks.index(("decl", ":="))
        decl = [v for k, v in toks[:split] if k == "var"]
        toks = toks[split + 1 :]
    commands: list[Command] = [[]]
    depth_items: list[list[Command]] = []
    for kind, value in toks:
        if (kind, value) == ("punct", "("):
            depth_items.append(commands)
            commands = [[]]
        elif (kind, value) == ("punct", ")"):
            inner = Pipeline([], commands)
            commands = depth_items.pop()
            commands[-1].append(("pipe", inner))
        elif (kind, value) == ("punct", "|"):
            commands.append([])
        elif kind != "punct":
            commands[-1].append((kind, value))
    if depth_items or not all(commands):
        msg = f"unbalanced or empty pipeline: {toks}"
        raise TemplateError(msg)
    return Pipeline(decl, commands)


def truth(value: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings, maps and lists are false."""
    if isinstance(value, bool | int | float | str | list | dict):
        return bool(value)
    return value is not None


class Engine:
    """Parse template files, then execute any of them with a data value."""

    def __init__(self, functions: dict[str, Callable[..., Any]]) -> None:
        self.defines: dict[str, list[Node]] = {}
        self.files: dict[str, list[Node]] = {}
        self.functions = {**functions, "include": self.include}

    def parse(self, name: str, source: str) -> None:
        self.files[name], _ = _Parser(source, self.defines).parse()

    def execute(self, name: str, data: Any) -> str:
        return self._run(self.files[name], data, [{"$": data}])

    def include(self, name: str, data: Any) -> str:
        if name not in self.defines:
            msg = f"no template named {name!r}"
            raise TemplateError(msg)
        return self._run(self.defines[name], data, [{"$": data}])

    def _run(self, nodes: list[Node], dot: Any, scopes: list[dict[str, Any]]) -> str:
        return "".join(self._node(n, dot, scopes) for n in nodes)

    def _node(self, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> str:
        if node.kind == "text":
            return node.text
        assert node.pipe is not None
        if node.kind == "action":
            value = self._pipe(node.pipe, dot, scopes)
            return "" if node.pipe.decl else go_str(value)
        if node.kind == "range":
            return self._range(node, dot, scopes)
        value = self._pipe(node.pipe, dot, [*scopes, {}])
        if not truth(value):
            return self._run(node.orelse, dot, [*scopes, {}])
        return self._run(node.body, value if node.kind == "with" else dot, [*scopes, {}])

    def _range(self, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> str:
        assert node.pipe is not None
        value = self._pipe(Pipeline([], node.pipe.commands), dot, scopes)
        if not truth(value):
            return self._run(node.orelse, dot, [*scopes, {}])
        if isinstance(value, dict):
            pairs = sorted(value.items())
        elif isinstance(value, list):
            pairs = list(enumerate(value))
        else:
            msg = f"range over {type(value).__name__}"
            raise TemplateError(msg)
        names, out = node.pipe.decl, []
        for key, item in pairs:
            values = [item] if len(names) == 1 else [key, item]
            scope = dict(zip(names, values, strict=True)) if names else {}
            out.append(self._run(node.body, item, [*scopes, scope]))
        return "".join(out)

    def _pipe(self, pipe: Pipeline, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = None
        for i, command in enumerate(pipe.commands):
            value = self._command(command, dot, scopes, piped=(value,) if i else ())
        if pipe.decl:
            scopes[-1][pipe.decl[0]] = value
        return value

    def _command(
        self, cmd: Command, dot: Any, scopes: list[dict[str, Any]], piped: tuple[Any, ...]
    ) -> Any:
        head, args = cmd[0], [self._operand(op, dot, scopes) for op in cmd[1:]]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            if head[1] not in self.functions:
                msg = f"function {head[1]!r} is not supported"
                raise TemplateError(msg)
            return self.functions[head[1]](*args, *piped)
        value = self._operand(head, dot, scopes)
        if callable(value):
            return value(*args, *piped)
        if args or piped:
            msg = f"{head[1]} is not a function, cannot take arguments"
            raise TemplateError(msg)
        return value

    def _operand(self, op: Operand, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        kind, text = op
        if kind == "str":
            return json.loads(text)
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[text]
        if kind == "pipe":
            return self._pipe(text, dot, scopes)
        if kind == "var":
            name, *path = text.split(".")
            scope = next((s for s in reversed(scopes) if name in s), None)
            if scope is None:
                msg = f"undefined variable {name}"
                raise TemplateError(msg)
            return _lookup(scope[name], path, text)
        return _lookup(dot, [p for p in text.split(".") if p], text)


def _lookup(value: Any, path: list[str], text: str) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            msg = f"missing value {text} (at {part!r})"
            raise TemplateError(msg)
        value = value[part]
    return value
