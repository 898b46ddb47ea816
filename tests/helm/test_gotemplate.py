"""The template engine reproduces documented Helm/Go behaviour on the constructs the chart uses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helm.gofmt import go_float, helm_numbers, json_float, to_yaml
from tests.helm.gotemplate import Engine, TemplateError
from tests.helm.render import FUNCTIONS


def run(source: str, values: dict[str, Any] | None = None, *defines: str) -> str:
    engine = Engine(FUNCTIONS)
    for i, text in enumerate(defines):
        engine.parse(f"_helpers{i}.tpl", text)
    engine.parse("t.yaml", source)
    return engine.execute("t.yaml", {"Values": helm_numbers(values or {})})


def test_helm_prints_values_numbers_as_float64() -> None:
    """helm/helm#12195: `helm template` prints 999999, 1e+06 and "1e+06"."""
    source = "ONE: {{ .Values.a }}\nTWO: {{ .Values.b }}\nTWO_Q: {{ .Values.b | quote }}"
    assert run(source, {"a": 999999, "b": 1000000}) == 'ONE: 999999\nTWO: 1e+06\nTWO_Q: "1e+06"'
    assert run("{{ .Values.b | toJson }}", {"b": 1000000}) == "1000000"


@pytest.mark.parametrize(
    ("value", "fmt", "json"),
    [
        (0.5, "0.5", "0.5"),
        (60.0, "60", "60"),
        (1e-05, "1e-05", "0.00001"),
        (0.0001, "0.0001", "0.0001"),
        (123456.7, "123456.7", "123456.7"),
        (536870912.0, "5.36870912e+08", "536870912"),
        (-2.5e21, "-2.5e+21", "-2.5e+21"),
    ],
)
def test_float_formatting_matches_go(value: float, fmt: str, json: str) -> None:
    assert go_float(value) == fmt
    assert json_float(value) == json


def test_trim_markers_eat_whitespace_and_newlines() -> None:
    assert run("a  \n  {{- 1 }}  \n b") == "a1  \n b"
    assert run("a {{ 1 -}} \n\n b") == "a 1b"
    assert run("x{{/* comment */}}y{{- /* trimmed */ -}}  z") == "xyz"


def test_if_else_if_else() -> None:
    source = '{{ if eq .Values.k "a" }}A{{ else if .Values.on }}ON{{ else }}OFF{{ end }}'
    assert run(source, {"k": "a", "on": False}) == "A"
    assert run(source, {"k": "b", "on": True}) == "ON"
    assert run(source, {"k": "b", "on": {}}) == "OFF"


def test_range_over_a_map_is_sorted_and_binds_key_and_value() -> None:
    source = "{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}"
    assert run(source, {"m": {"b": 2, "a": "x"}}) == "a=x;b=2;"
    assert run("{{ range .Values.l }}[{{ . }}]{{ else }}none{{ end }}", {"l": []}) == "none"


def test_with_rebinds_dot_and_variables_keep_the_root() -> None:
    source = (
        "{{ $n := .Values.name }}{{ with .Values.sub }}"
        "{{ .x }}-{{ $n }}-{{ $.Values.name }}{{ end }}"
    )
    assert run(source, {"name": "r", "sub": {"x": "s"}}) == "s-r-r"


def test_define_include_and_nindent() -> None:
    helpers = '{{- define "labels" -}}\na: {{ .a }}\nb: {{ .b }}\n{{- end }}'
    source = 'labels:\n  {{- include "labels" (dict "a" 1 "b" "two") | nindent 2 }}'
    assert run(source, {}, helpers) == "labels:\n  a: 1\n  b: two"


def test_to_yaml_drops_the_final_newline_and_writes_integers() -> None:
    assert to_yaml(helm_numbers({"cpu": "1", "n": 3, "l": ["A"]})) == "cpu: '1'\nl:\n- A\nn: 3"
    assert to_yaml({}) == "{}"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{{ .Values.missing }}", "missing value"),
        ("{{ .Values.n | frobnicate }}", "not supported"),
        ("{{ if eq .Values.n 1 }}x{{ end }}", "incompatible types"),
        ("{{ if .Values.n }}x", "missing {{ end }}"),
        ("{{ end }}", "unexpected"),
        ("{{ .Values.m }}", "refusing to print"),
        ('{{ include "nope" . }}', "no template named"),
    ],
)
def test_unsupported_or_wrong_templates_fail_loudly(source: str, error: str) -> None:
    with pytest.raises((TemplateError, TypeError), match=error):
        run(source, {"n": 1, "m": {"a": 1}})


def test_fail_stops_rendering_with_its_message() -> None:
    """Sprig's fail: the chart's production checks rely on the message reaching the user."""
    with pytest.raises(TemplateError, match="^set config.x$"):
        run('a{{ if .Values.on }}{{ fail "set config.x" }}{{ end }}', {"on": True})
    assert run('a{{ if .Values.on }}{{ fail "set config.x" }}{{ end }}', {"on": False}) == "a"


def test_index_of_a_missing_map_key_is_nil_and_a_slice_wants_an_int_in_range() -> None:
    """Go's index returns a map's zero value (nil) for a missing key; slices are strict."""
    source = '{{ kindIs "invalid" (index .Values.m "nope") }} {{ index .Values.m "a" }}'
    assert run(source, {"m": {"a": "x"}}) == "true x"
    assert run("{{ index .Values.l 1 }}", {"l": ["a", "b"]}) == "b"
    with pytest.raises(TemplateError, match="out of range"):
        run("{{ index .Values.l 2 }}", {"l": ["a", "b"]})
    with pytest.raises(TemplateError, match="cannot index slice/array with type float64"):
        run("{{ index .Values.l .Values.n }}", {"l": ["a", "b"], "n": 1})  # n is a float64


def test_has_compares_like_reflect_deep_equal() -> None:
    assert run('{{ has "b" (list "a" "b") }} {{ has "c" (list "a") }}') == "true false"
    assert run("{{ has 1 .Values.l }}", {"l": [1]}) == "false"  # 1 (int) is not 1.0 (float64)
    assert run('{{ has "a" (index .Values "none") }}') == "false"
    with pytest.raises(TemplateError, match="Cannot find has on type map"):
        run('{{ has "a" .Values.m }}', {"m": {"a": 1}})


def test_include_may_call_itself() -> None:
    """Helm allows recursive includes; the placeholder scan walks values with one."""
    walk = (
        '{{- define "walk" -}}{{- range $k, $v := .v }}'
        '{{- if kindIs "map" $v }}{{ include "walk" (dict "p" (printf "%s%s." $.p $k) "v" $v) }}'
        '{{- else }}{{ printf "%s%v=%v;" $.p $k $v }}{{ end }}{{- end }}{{- end }}'
    )
    source = '{{ include "walk" (dict "p" "" "v" .Values) }}'
    assert run(source, {"a": {"b": {"c": "x"}}, "d": "y"}, walk) == "a.b.c=x;d=y;"
