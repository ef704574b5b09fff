#!/usr/bin/env bash
# Checks the Prometheus alerting rules of the Helm chart: `promtool check rules` on
# helm/learnflow/files/prometheus-rules.yaml, then `promtool test rules` on its unit tests
# helm/learnflow/files/prometheus-rules.test.yaml. Exit 77 (ctest: skipped) without promtool.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: rules_test.sh [--help]

Validates helm/learnflow/files/prometheus-rules.yaml with `promtool check rules` and runs its
unit tests helm/learnflow/files/prometheus-rules.test.yaml with `promtool test rules`
(paths relative to the repository root, found from this script's location).

Environment: PROMTOOL  promtool binary to use (default: promtool from PATH).
Exit codes: 0 rules valid and all tests pass; 1 a check or test failed (promtool's output is
printed); 2 usage error; 77 promtool is not installed (skipped).
USAGE
}

case "$#:${1:-}" in
  0:) ;;
  1:-h | 1:--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/../.." && pwd)"
rules="$root/helm/learnflow/files/prometheus-rules.yaml"
tests="$root/helm/learnflow/files/prometheus-rules.test.yaml"
promtool="${PROMTOOL:-promtool}"

if ! command -v "$promtool" >/dev/null 2>&1; then
  echo "skipped: promtool not installed (apt-get install prometheus)"
  exit 77
fi
for f in "$rules" "$tests"; do
  [ -f "$f" ] || { echo "FAILED: missing $f" >&2; exit 1; }
done

# promtool resolves rule_files relative to the test file's directory, so the working directory
# does not matter.
if ! out="$("$promtool" check rules "$rules" 2>&1)"; then
  printf '%s\n' "$out" >&2
  echo "FAILED: promtool check rules $rules" >&2
  exit 1
fi
if ! out="$("$promtool" test rules "$tests" 2>&1)"; then
  printf '%s\n' "$out" >&2
  echo "FAILED: promtool test rules $tests" >&2
  exit 1
fi

alerts="$(grep -c '^[[:space:]]*- alert:' "$rules" || true)"
groups="$(grep -c '^  - name:' "$tests" || true)"
version="$("$promtool" --version 2>&1 | head -n 1 | awk '{print $3}')"
echo "ok: ${alerts} alerting rules valid, ${groups} promtool test groups passed (promtool ${version})"
