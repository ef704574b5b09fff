#!/usr/bin/env bash
# Smoke run of the performance benchmark (bench/learnflow_bench.cc) at a tiny size: every
# scenario but `parts` runs against the real engine and embedded broker, exits 0, and reports a
# positive figure in results.json. Performance itself is not judged here (scripts/bench does).
#   bench_smoke_test.sh LEARNFLOW_BENCH LEARNFLOW_BINARY
set -euo pipefail
bench="$1"
binary="$2"
out="$(mktemp -d "${TMPDIR:-/tmp}/learnflow-bench-smoke.XXXXXX")"
trap 'rm -rf "$out"' EXIT

"$bench" --binary "$binary" --out "$out" --only inprocess,e2e,latency,memory,recovery,restore \
  --events 24000 --learners 2000 --cohorts 50 --skills 200 --segment 12000 \
  --latency-seconds 2 --memory-learners 5000 --restore-learners 2000 --inprocess-events 20000 \
  > "$out/bench.txt" 2>&1 || { cat "$out/bench.txt"; echo "learnflow_bench failed"; exit 1; }

results="$out/results.json"
fail=0
expect() {  # scenario, figure text: one figure of that scenario with a positive value
  local line
  line="$(grep -F "\"scenario\": \"$1\", \"figure\": \"$2" "$results" || true)"
  if [ -z "$line" ]; then
    echo "results.json has no figure '$2' of scenario $1"; fail=1; return
  fi
  if ! grep -qE '"value": [0-9]*\.?[0-9]*[1-9]' <<<"$line"; then
    echo "figure '$2' of scenario $1 is not positive: $line"; fail=1
  fi
}
expect inprocess "events/s, one processing thread"
expect e2e "plain librdkafka consumer"
expect e2e "engine, full pipeline"
expect e2e "engine / plain consumer"
expect latency "p99 poll to state updated"
expect memory "peak RSS"
expect recovery "restart to ready after SIGKILL"
expect restore "changelog restore"
# Every event of the in-process run was consumed, none rejected (20,000 events span under an hour
# of event time, so no window is final yet).
grep -qE "inprocess: 20000 events in .* 0 invalid" "$out/bench.txt" ||
  { echo "the in-process note does not show 20000 events, 0 invalid"; fail=1; }
if [ "$fail" -ne 0 ]; then cat "$out/bench.txt"; exit 1; fi
echo "bench smoke run: every scenario reported"
