"""Go's formatting of Helm values: `{{ x }}` and `quote` print like fmt's %v, `toJson` like
encoding/json, `toYaml` like sigs.k8s.io/yaml.

Helm loads every number of values.yaml as a float64, so `{{ 1000000 }}` prints `1e+06`
(helm/helm#1707, #12195); the renderer reproduces that so the tests see what Helm would emit.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]


def helm_numbers(value: Any) -> Any:
    """Turn every int of a loaded YAML tree into a float, as Helm's values loader does."""
    if isinstance(value, dict):
        return {k: helm_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [helm_numbers(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of abs(f) and the decimal point position."""
    _, digits, exp = Decimal(repr(abs(f))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    assert isinstance(exp, int)
    return text, len(digits) + exp


def _fixed(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _exponent(digits: str, dp: int, pad: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = dp - 1
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):0{pad}d}"


def go_float(f: float) -> str:
    """Format like Go's fmt %v (strconv 'g', shortest; exponent from 1e+06 and below 1e-04)."""
    if math.isnan(f) or math.isinf(f):
        return "NaN" if math.isnan(f) else ("+Inf" if f > 0 else "-Inf")
    if f == 0:
        return "0"
    digits, dp = _digits(f)
    sign = "-" if f < 0 else ""
    if dp - 1 < -4 or dp - 1 >= 6:
        return sign + _exponent(digits, dp, pad=2)
    return sign + _fixed(digits, dp)


def json_float(f: float) -> str:
    """Format like encoding/json: plain decimals between 1e-6 and 1e21."""
    if f == 0:
        return "0"
    digits, dp = _digits(f)
    sign = "-" if f < 0 else ""
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        return sign + _exponent(digits, dp, pad=1)
    return sign + _fixed(digits, dp)


def go_str(value: Any) -> str:
    """Print a value into template output; maps and lists are refused (the chart never does it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, int | str):
        return str(value)
    msg = f"refusing to print a {type(value).__name__} into a template: {value!r}"
    raise TypeError(msg)


def to_json(value: Any) -> str:
    """Marshal like encoding/json: sorted keys, compact, HTML characters escaped."""
    if isinstance(value, dict):
        items = (f"{to_json(str(k))}:{to_json(v)}" for k, v in sorted(value.items()))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, code)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return json.dumps(value)


def _yaml_numbers(value: Any) -> Any:
    """sigs.k8s.io/yaml goes through JSON: an integral float comes out as an integer."""
    if isinstance(value, dict):
        return {k: _yaml_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def to_yaml(value: Any) -> str:
    """Marshal like Helm's toYaml: block style, sorted keys, final newline removed."""
    text = yaml.safe_dump(
        _yaml_numbers(value),
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
    )
    return str(text).removesuffix("...\n").removesuffix("\n")


def go_quote(value: Any) -> str:
    """Sprig's quote: %q of the value's %v form."""
    return json.dumps(go_str(value), ensure_ascii=False)
