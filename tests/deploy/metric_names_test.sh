#!/usr/bin/env bash
# Every learnflow_* metric named in the Prometheus rules and the Grafana dashboard of the Helm
# chart is one a running engine exports: starts `learnflow demo` (embedded broker, simulated
# learners, engine), scrapes its /metrics until every referenced name has appeared, and fails
# naming the ones that never do.
# Usage: metric_names_test.sh /path/to/learnflow
set -euo pipefail
case "${1:-}" in
  -h|--help|"") sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; [ -n "${1:-}" ]; exit $? ;;
esac
learnflow="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
files=("$root/helm/learnflow/files/prometheus-rules.yaml")
for f in "$root"/helm/learnflow/files/dashboards/*.json; do [ -e "$f" ] && files+=("$f"); done
for f in "${files[@]}"; do [ -f "$f" ] || { echo "missing $f"; exit 1; }; done
names="$(grep -ohE 'learnflow_[a-z0-9_]+' "${files[@]}" | sort -u)"
[ -n "$names" ] || { echo "no learnflow_* metric named in ${files[*]}"; exit 1; }

source "$(dirname "$0")/../testing/demo_process.sh"
start_demo "$learnflow"
metrics_url=""
while read -r -t 90 -u 3 line; do
  case "$line" in
    *"metrics: http://"*) metrics_url="$(echo "$line" | sed -E 's|.*metrics: (http://[^ ]*/metrics).*|\1|')"; break ;;
  esac
done
[ -n "$metrics_url" ] || { echo "demo printed no metrics URL"; cat "$work/err"; exit 1; }
# Series appear as data flows (cohort gauges after the first final cohort window, consumer lag
# after the first librdkafka statistics). Each demo output line (a status line every 5 s) is a
# chance to scrape; 40 lines bound the wait.
cat > "$work/check.py" <<'PY'
import sys, urllib.request
url, wanted = sys.argv[1], set(sys.argv[2:])
body = urllib.request.urlopen(url, timeout=30).read().decode()
exported = {line.split("{", 1)[0].split(" ", 1)[0]
            for line in body.splitlines() if line and not line.startswith("#")}
missing = sorted(wanted - exported)
if missing:
    print("named in the rules or dashboard but not exported by a running engine:", ", ".join(missing))
    sys.exit(1)
print(f"metric names: all {len(wanted)} learnflow_* metrics of the rules and dashboard are exported")
PY
ok=0
lines=0
while [ "$lines" -lt 40 ] && read -r -t 90 -u 3 line; do
  lines=$((lines + 1))
  if /usr/bin/python3 "$work/check.py" "$metrics_url" $names >"$work/result"; then ok=1; break; fi
done
cat "$work/result" 2>/dev/null || true
[ "$ok" -eq 1 ] || { echo "(after $lines demo lines)"; exit 1; }
kill -TERM "$demo_pid"
wait "$demo_pid" || true
demo_pid=""
