"""Render a chart as `helm template` would, for the Sprig functions the reelscope chart uses."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from tests.helm.gofmt import go_quote, go_str, helm_numbers, to_json, to_yaml
from tests.helm.gotemplate import Engine, TemplateError, truth

CHART = Path(__file__).resolve().parents[2] / "helm" / "reelscope"
_KINDS = {dict: "map", list: "slice", str: "string", bool: "bool", float: "float64", int: "int"}


def kind_of(value: Any) -> str:
    """Go's reflect kind name of a value, as Sprig's kindIs sees it."""
    return "invalid" if value is None else _KINDS[type(value)]


def _comparable(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return True
    if kind_of(a) != kind_of(b):
        msg = f"incompatible types for comparison: {kind_of(a)} and {kind_of(b)}"
        raise TemplateError(msg)
    return bool(a == b)


def _required(message: str, value: Any) -> Any:
    if value is None or value == "":
        raise TemplateError(message)
    return value


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        value = next(values)
        return go_quote(value) if m.group(0) == "%q" else go_str(value)

    return re.sub(r"%[svdq%]", one, fmt)


def _index(value: Any, *keys: Any) -> Any:
    """Go's index: a key missing from a map gives the zero value (nil); a slice takes an int
    (not a float64 from values) that must be in range."""
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and kind_of(key) == "int":
            if not 0 <= key < len(value):
                msg = f"error calling index: index out of range: {key}"
                raise TemplateError(msg)
            value = value[key]
        else:
            what = "slice/array" if isinstance(value, list) else kind_of(value)
            msg = f"error calling index: cannot index {what} with type {kind_of(key)}"
            raise TemplateError(msg)
    return value


def _fail(message: str) -> Any:
    """Sprig's fail: rendering stops with this message."""
    raise TemplateError(message)


def _has(needle: Any, haystack: Any) -> bool:
    """Sprig's has: reflect.DeepEqual against each item, so 1 (int) is not 1.0 (float64)."""
    if haystack is None:
        return False
    if not isinstance(haystack, list):
        msg = f"Cannot find has on type {kind_of(haystack)}"
        raise TemplateError(msg)
    return any(kind_of(item) == kind_of(needle) and item == needle for item in haystack)


def _indent(n: int, text: str) -> str:
    pad = " " * n
    return pad + text.replace("\n", "\n" + pad)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "default": lambda d, *given: given[0] if given and truth(given[0]) else d,
    "trunc": lambda n, s: s[:n] if n >= 0 else s[n:],
    "trimSuffix": lambda suffix, s: s.removesuffix(suffix),
    "printf": _printf,
    "upper": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "contains": lambda sub, s: sub in s,
    "quote": go_quote,
    "toString": go_str,
    "toJson": to_json,
    "toYaml": to_yaml,
    "indent": _indent,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "sha256sum": lambda s: hashlib.sha256(s.encode()).hexdigest(),
    "kindIs": lambda kind, value: kind_of(value) == kind,
    "required": _required,
    "eq": lambda a, *bs: any(_comparable(a, b) for b in bs),
    "ne": lambda a, b: not _comparable(a, b),
    "and": lambda *xs: next((x for x in xs if not truth(x)), xs[-1]),
    "or": lambda *xs: next((x for x in xs if truth(x)), xs[-1]),
    "not": lambda x: not truth(x),
    "list": lambda *xs: list(xs),
    "dict": lambda *kv: dict(zip(kv[::2], kv[1::2], strict=True)),
    "index": _index,
    "fail": _fail,
    "has": _has,
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Coalesce values like Helm: maps merge key by key, null removes a key."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def values(overrides: dict[str, Any] | None = None, chart: Path = CHART) -> dict[str, Any]:
    """The chart's values.yaml with overrides applied, numbers loaded as Helm loads them."""
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    return dict(helm_numbers(merge(defaults, overrides or {})))


def render(
    overrides: dict[str, Any] | None = None,
    *,
    chart: Path = CHART,
    release: str = "reelscope",
    namespace: str = "media",
) -> dict[str, str]:
    """Render every template (NOTES.txt included) to text, by file name."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    engine = Engine(FUNCTIONS)
    templates = sorted((chart / "templates").iterdir())
    for path in templates:
        engine.parse(path.name, path.read_text())

    def get_file(name: str) -> str:
        return (chart / name).read_text()

    data = {
        "Values": values(overrides, chart),
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {
            "Name": meta["name"],
            "Version": meta["version"],
            "AppVersion": meta["appVersion"],
        },
        "Files": {"Get": get_file},
    }
    return {p.name: engine.execute(p.name, data) for p in templates if not p.name.startswith("_")}


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Parse the rendered YAML templates into Kubernetes objects (empty documents dropped)."""
    docs: list[dict[str, Any]] = []
    for name, text in rendered.items():
        if name.endswith((".yaml", ".yml")):
            docs.extend(d for d in yaml.safe_load_all(text) if d is not None)
    return docs
