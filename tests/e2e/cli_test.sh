#!/usr/bin/env bash
# The command-line contract (DESIGN §3): every command has --help (exit 0); usage and
# configuration errors exit 2 with a message naming the bad option or key; check-config prints
# the configuration with secrets masked.
# Usage: cli_test.sh /path/to/learnflow
set -uo pipefail
learnflow="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() {  # check NAME EXPECTED_EXIT PATTERN -- command...
  local name="$1" want="$2" pattern="$3"
  shift 4
  local out status
  out="$("$@" 2>&1)"
  status=$?
  if [ "$status" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $status (want $want), output:"
    echo "$out" | head -20
  fi
}

for cmd in run demo broker simulate check-config; do
  check "$cmd --help" 0 "Usage:" -- "$learnflow" "$cmd" --help
done
check "top-level --help" 0 "Subcommands:" -- "$learnflow" --help
check "no command" 2 "subcommand" -- "$learnflow"
check "unknown command" 2 "" -- "$learnflow" frobnicate
check "run without --config" 2 "--config" -- "$learnflow" run
check "simulate bad format" 2 "format" -- "$learnflow" simulate --bootstrap-servers 127.0.0.1:1 --format csv

cat >"$work/typo.yaml" <<'YAML'
kafka:
  bootstrap_servers: "127.0.0.1:9092"
windows:
  sise_ms: 60000
YAML
check "unknown key named" 2 "windows\.sise_ms" -- "$learnflow" check-config --config "$work/typo.yaml"

cat >"$work/good.yaml" <<'YAML'
kafka:
  bootstrap_servers: "127.0.0.1:9092"
  properties:
    sasl.password: "hunter2-secret"
YAML
check "bad value via --set named" 2 "processing\.commit_interval_ms" -- \
  "$learnflow" check-config --config "$work/good.yaml" --set processing.commit_interval_ms=abc
check "p_guess >= 0.5 rejected" 2 "signals\.p_guess" -- \
  "$learnflow" check-config --config "$work/good.yaml" --set signals.p_guess=0.5
check "bad value via env named" 2 "processing\.threads" -- \
  env LEARNFLOW_PROCESSING_THREADS=zero "$learnflow" check-config --config "$work/good.yaml"
check "missing file named" 2 "no-such\.yaml" -- "$learnflow" check-config --config "$work/no-such.yaml"
check "valid config accepted" 0 "configuration OK" -- "$learnflow" check-config --config "$work/good.yaml"
out="$("$learnflow" check-config --config "$work/good.yaml" 2>/dev/null)"
if grep -q "hunter2" <<<"$out"; then
  failed=$((failed + 1)); echo "FAIL check-config printed a secret"
else
  passed=$((passed + 1))
fi
check "run without bootstrap servers" 2 "kafka\.bootstrap_servers" -- \
  "$learnflow" run --config "$work/good.yaml" --set kafka.bootstrap_servers=

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
