#!/usr/bin/env bash
# Check the shipped Prometheus rules with promtool (Debian: apt-get install prometheus):
# syntax and PromQL of every rule, then the rule unit tests, then the chart's copy is identical.
set -euo pipefail
cd "$(dirname "$0")/.."
rules=dashboards/alerts/reelscope.rules.yml
if ! command -v promtool >/dev/null; then
  echo "promtool not found: apt-get install -y prometheus (or use the prom/prometheus image)" >&2
  exit 2
fi
promtool check rules "$rules"
(cd dashboards/alerts && promtool test rules reelscope.rules.test.yml)
cmp "$rules" helm/reelscope/files/reelscope.rules.yml
cmp dashboards/grafana/reelscope.json helm/reelscope/files/reelscope-dashboard.json
# the dashboard's PromQL, as recording rules (Grafana variables replaced by plain values)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - dashboards/grafana/reelscope.json > "$tmp/dashboard.rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
print("groups:\n  - name: dashboard\n    rules:")
for i, e in enumerate(exprs):
    e = e.replace("$__rate_interval", "5m").replace("$namespace", ".*")
    print(f"      - record: dashboard:panel{i}\n        expr: {json.dumps(e)}")
PY
promtool check rules "$tmp/dashboard.rules.yml"
echo "rules OK: $(promtool --version 2>&1 | head -1)"
