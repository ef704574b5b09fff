// Validates the manifests rendered by `helm template helm/learnflow` (tests/deploy/chart_test.sh).
//
//   node validate_manifests.mjs --example docs/learnflow.example.yaml [--defaults]
//        [--expect Kind=N ...] [--expect-secret-env NAME=secret/key ...] [--expect-dashboards N]
//        rendered.yaml
//
// 1. Every YAML document is built into the kubernetes-models class of its apiVersion and kind
//    (@kubernetes-models/prometheus-operator for monitoring.coreos.com) and .validate()d against
//    the Kubernetes OpenAPI / CRD schema; an unknown kind is an error.
// 2. Chart-specific assertions: the ConfigMap's learnflow.yaml parses and has every section and key
//    of docs/learnflow.example.yaml (with --defaults: the same values, except state.dir and
//    http.listen, which the chart pins); the StatefulSet has volumeClaimTemplates for the state
//    directory, liveness on /healthz and readiness on /readyz on the http port, runs as non-root
//    10001 with a read-only root filesystem and no capabilities, has a grace period above
//    processing.shutdown_timeout_ms, static membership from the pod name; selectors, ports and
//    references between the documents agree.
// Runs from the tools directory that holds node_modules (chart_test.sh copies it there).
// Prints one line on success; exits 1 with every error otherwise.

import fs from "node:fs";
import YAML from "yaml";

const args = process.argv.slice(2);
const opts = { example: null, defaults: false, expect: {}, secretEnv: {}, dashboards: null, file: null };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    return args[++i];
  };
  if (a === "--example") opts.example = next();
  else if (a === "--defaults") opts.defaults = true;
  else if (a === "--expect") {
    const [k, n] = next().split("=");
    opts.expect[k] = Number(n);
  } else if (a === "--expect-secret-env") {
    const [name, ref] = next().split("=");
    opts.secretEnv[name] = ref;
  } else if (a === "--expect-dashboards") opts.dashboards = Number(next());
  else if (a === "-h" || a === "--help") usage();
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else opts.file = a;
}
if (!opts.file || !opts.example) usage("a rendered file and --example are required");

function usage(msg) {
  if (msg) console.error(`validate_manifests: ${msg}`);
  console.error("usage: node validate_manifests.mjs --example EXAMPLE.yaml [--defaults] [--expect Kind=N]... " +
    "[--expect-secret-env NAME=secret/key]... [--expect-dashboards N] RENDERED.yaml");
  process.exit(msg ? 2 : 0);
}

const errors = [];
const fail = (msg) => errors.push(msg);
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// ---- 1. parse and validate every document -------------------------------------------------
const text = fs.readFileSync(opts.file, "utf8");
const docs = [];
for (const d of YAML.parseAllDocuments(text)) {
  if (d.errors.length) {
    fail(`YAML error: ${d.errors.map((e) => e.message).join("; ")}`);
    continue;
  }
  const v = d.toJS();
  if (v === null || v === undefined) continue;  // empty document (a template that rendered nothing)
  docs.push(v);
}
if (docs.length === 0) fail("no manifests rendered");

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (!/^[A-Za-z0-9]+$/.test(kind) || !/^v[0-9a-z]+$/.test(version ?? "")) return null;
  if (group === "") return `kubernetes-models/${version}/${kind}`;
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  if (!/^[a-z0-9.]+$/.test(group)) return null;
  return `kubernetes-models/${group}/${version}/${kind}`;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const NAME_63 = new Set(["Service", "StatefulSet"]);  // names that become DNS labels / pod name prefixes
const seen = new Set();
const kinds = {};
for (const doc of docs) {
  const id = `${doc.kind ?? "?"}/${doc.metadata?.name ?? "?"}`;
  if (typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") {
    fail(`${id}: missing apiVersion or kind`);
    continue;
  }
  if (!doc.metadata?.name) fail(`${id}: missing metadata.name`);
  else if (!DNS_SUBDOMAIN.test(doc.metadata.name) || doc.metadata.name.length > 253) fail(`${id}: metadata.name is not a DNS subdomain name`);
  else if (NAME_63.has(doc.kind) && (!DNS_LABEL.test(doc.metadata.name) || doc.metadata.name.length > 63)) fail(`${id}: metadata.name is not a DNS label of at most 63 characters`);
  for (const where of ["labels", "annotations"]) {
    for (const [k, v] of Object.entries(doc.metadata?.[where] ?? {})) {
      if (!QUALIFIED_NAME.test(k)) fail(`${id}: ${where} key ${k} is not a qualified name`);
      if (typeof v !== "string") fail(`${id}: ${where} ${k} is not a string`);
      else if (where === "labels" && (v.length > 63 || !LABEL_VALUE.test(v))) fail(`${id}: label ${k}=${v} is not a valid label value`);
    }
  }
  const key = `${doc.apiVersion}/${doc.kind}/${doc.metadata?.namespace ?? ""}/${doc.metadata?.name}`;
  if (seen.has(key)) fail(`${id}: rendered twice`);
  seen.add(key);
  kinds[doc.kind] = (kinds[doc.kind] ?? 0) + 1;
  const path = modulePath(doc.apiVersion, doc.kind);
  let Model = null;
  if (path) {
    try {
      const mod = await import(path);
      Model = mod[doc.kind];
    } catch (e) {
      if (e.code !== "ERR_MODULE_NOT_FOUND" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
    }
  }
  if (!Model) {
    fail(`${id}: unknown kind ${doc.apiVersion} ${doc.kind} (no kubernetes-models class to validate it)`);
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    fail(`${id}: ${e.message}`);
  }
}

// ---- 2. chart assertions ---------------------------------------------------------------------
const byKind = (k) => docs.filter((d) => d.kind === k);
const matches = (selector, labels) =>
  isObj(selector) && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

for (const [kind, n] of Object.entries(opts.expect)) {
  const got = kinds[kind] ?? 0;
  if (got !== n) fail(`expected ${n} ${kind} document(s), rendered ${got}`);
}

// The example config defines the sections and keys (DESIGN §4, docs/configuration.md).
const example = YAML.parse(fs.readFileSync(opts.example, "utf8"));
const DESIGN_SECTIONS = ["kafka", "topics", "processing", "windows", "signals", "state", "http",
  "metrics", "privacy", "log"];
for (const s of DESIGN_SECTIONS) if (!isObj(example?.[s])) fail(`${opts.example}: no section ${s}`);

const sts = byKind("StatefulSet");
if (sts.length !== 1) fail(`expected one StatefulSet, rendered ${sts.length}`);
const ss = sts[0] ?? {};
const pod = ss.spec?.template?.spec ?? {};
const podLabels = ss.spec?.template?.metadata?.labels ?? {};
const container = (pod.containers ?? []).find((c) => c.name === "learnflow") ?? pod.containers?.[0] ?? {};

// ConfigMap holding learnflow.yaml, mounted at the directory of --config.
const cargs = container.args ?? [];
const configArg = cargs[cargs.indexOf("--config") + 1];
if (cargs[0] !== "run" || cargs.indexOf("--config") < 0 || !configArg) fail(`StatefulSet: args ${JSON.stringify(cargs)} are not "run --config FILE ..."`);
const configMount = (container.volumeMounts ?? []).find((m) => configArg && configArg.startsWith(m.mountPath.replace(/\/?$/, "/")));
const configVolume = (pod.volumes ?? []).find((v) => v.name === configMount?.name);
const configMap = byKind("ConfigMap").find((c) => c.metadata?.name === configVolume?.configMap?.name);
let config = null;
if (!configMap) fail(`StatefulSet: no ConfigMap mounted at the directory of --config ${configArg}`);
else {
  const fileKey = configArg.slice(configMount.mountPath.replace(/\/?$/, "/").length);
  const raw = configMap.data?.[fileKey];
  if (typeof raw !== "string") fail(`ConfigMap ${configMap.metadata.name}: no data key ${fileKey}`);
  else {
    try {
      config = YAML.parse(raw, { uniqueKeys: true });
    } catch (e) {
      fail(`ConfigMap ${configMap.metadata.name}/${fileKey}: not YAML: ${e.message}`);
    }
  }
}
const num = (v) => (typeof v === "number" ? v : NaN);
if (config !== null) {
  const where = `ConfigMap ${configMap.metadata.name} learnflow.yaml`;
  if (!isObj(config)) fail(`${where}: not a mapping`);
  else {
    for (const s of DESIGN_SECTIONS) if (!isObj(config[s])) fail(`${where}: section ${s} missing`);
    for (const s of Object.keys(config)) if (!(s in example)) fail(`${where}: unknown section ${s}`);
    for (const [s, keys] of Object.entries(example)) {
      if (!isObj(config[s])) {
        if (!DESIGN_SECTIONS.includes(s)) fail(`${where}: section ${s} missing`);
        continue;
      }
      for (const k of Object.keys(keys)) if (!(k in config[s])) fail(`${where}: ${s}.${k} missing`);
      for (const k of Object.keys(config[s])) if (!(k in keys)) fail(`${where}: ${s}.${k} is not a key of ${opts.example}`);
      if (opts.defaults) {
        for (const [k, v] of Object.entries(keys)) {
          if ((s === "state" && k === "dir") || (s === "http" && k === "listen")) continue;
          const got = config[s][k];
          const same = typeof v === "number" ? num(got) === v : JSON.stringify(got) === JSON.stringify(v);
          if (!same) fail(`${where}: ${s}.${k} is ${JSON.stringify(got)}, the example's default is ${JSON.stringify(v)}`);
        }
      }
    }
    // The chart pins the state directory to the volume and the listen port to the container port.
    const stateMount = (container.volumeMounts ?? []).find((m) => m.name === "state");
    if (config.state?.dir !== stateMount?.mountPath) fail(`${where}: state.dir ${config.state?.dir} is not the state volume's mount ${stateMount?.mountPath}`);
    const httpPort = (container.ports ?? []).find((p) => p.name === "http")?.containerPort;
    if (config.http?.listen !== `0.0.0.0:${httpPort}`) fail(`${where}: http.listen ${config.http?.listen} is not 0.0.0.0:<container port http ${httpPort}>`);
    const shutdown = num(config.processing?.shutdown_timeout_ms);
    if (!(pod.terminationGracePeriodSeconds * 1000 > shutdown)) fail(`StatefulSet: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} is not above processing.shutdown_timeout_ms ${shutdown}`);
  }
}

// StatefulSet shape.
if (ss.spec) {
  if (ss.spec.podManagementPolicy !== "Parallel") fail("StatefulSet: podManagementPolicy is not Parallel");
  if (typeof ss.spec.replicas !== "number") fail("StatefulSet: replicas is not a number");
  const vcts = ss.spec.volumeClaimTemplates ?? [];
  if (!vcts.some((v) => v.metadata?.name === "state")) fail("StatefulSet: no volumeClaimTemplates entry \"state\"");
  if (!(container.volumeMounts ?? []).some((m) => m.name === "state" && m.mountPath === "/var/lib/learnflow")) fail("StatefulSet: the state volume is not mounted at /var/lib/learnflow");
  if (!matches(ss.spec.selector?.matchLabels, podLabels)) fail("StatefulSet: selector does not match the pod labels");
  const volumeNames = new Set([...(pod.volumes ?? []).map((v) => v.name), ...vcts.map((v) => v.metadata?.name)]);
  for (const m of container.volumeMounts ?? []) if (!volumeNames.has(m.name)) fail(`StatefulSet: volumeMount ${m.name} has no volume`);
  const httpPort = (container.ports ?? []).find((p) => p.name === "http");
  if (!httpPort) fail("StatefulSet: no container port named http");
  for (const [probe, path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
    const p = container[probe];
    if (!p?.httpGet) fail(`StatefulSet: no ${probe} with httpGet`);
    else {
      if (p.httpGet.path !== path) fail(`StatefulSet: ${probe} path is ${p.httpGet.path}, not ${path}`);
      if (p.httpGet.port !== "http" && p.httpGet.port !== httpPort?.containerPort) fail(`StatefulSet: ${probe} is not on the http port`);
      if (!((p.timeoutSeconds ?? 1) >= 2)) fail(`StatefulSet: ${probe} timeoutSeconds below 2`);
    }
  }
  const psc = pod.securityContext ?? {};
  const csc = container.securityContext ?? {};
  if (!(csc.runAsNonRoot ?? psc.runAsNonRoot)) fail("StatefulSet: runAsNonRoot is not true");
  if ((csc.runAsUser ?? psc.runAsUser) !== 10001) fail("StatefulSet: runAsUser is not 10001");
  if (csc.readOnlyRootFilesystem !== true) fail("StatefulSet: readOnlyRootFilesystem is not true");
  if (csc.allowPrivilegeEscalation !== false) fail("StatefulSet: allowPrivilegeEscalation is not false");
  if (!(csc.capabilities?.drop ?? []).includes("ALL")) fail("StatefulSet: capabilities do not drop ALL");
  const checksum = ss.spec.template?.metadata?.annotations?.["checksum/config"];
  if (!/^[0-9a-f]{64}$/.test(checksum ?? "")) fail("StatefulSet: no checksum/config annotation");

  // Environment: POD_NAME before the variable that uses it, every LEARNFLOW_* name a real key.
  const env = container.env ?? [];
  const envIndex = (n) => env.findIndex((e) => e.name === n);
  const podName = env[envIndex("POD_NAME")];
  if (podName?.valueFrom?.fieldRef?.fieldPath !== "metadata.name") fail("StatefulSet: env POD_NAME is not from metadata.name");
  const gi = env[envIndex("LEARNFLOW_KAFKA_PROPERTIES__GROUP_INSTANCE_ID")];
  if (gi?.value !== "$(POD_NAME)") fail("StatefulSet: env LEARNFLOW_KAFKA_PROPERTIES__GROUP_INSTANCE_ID is not $(POD_NAME)");
  else if (envIndex("POD_NAME") > envIndex("LEARNFLOW_KAFKA_PROPERTIES__GROUP_INSTANCE_ID")) fail("StatefulSet: POD_NAME must come before the variables that use it");
  const names = env.map((e) => e.name);
  for (const n of new Set(names)) if (names.filter((x) => x === n).length > 1) fail(`StatefulSet: env ${n} set twice`);
  const keyEnv = config?.privacy?.key_env;
  for (const n of names) {
    if (!n.startsWith("LEARNFLOW_") || n === keyEnv) continue;
    const m = /^LEARNFLOW_([A-Z0-9]+)_(.+)$/.exec(n);
    const section = m?.[1].toLowerCase();
    if (!m || !isObj(example[section])) continue;  // not a configuration variable: ignored by learnflow
    const [key, entry] = m[2].split("__");
    const k = key.toLowerCase();
    if (!(k in example[section])) fail(`StatefulSet: env ${n}: ${section}.${k} is not a configuration key`);
    else if (entry !== undefined && !isObj(example[section][k])) fail(`StatefulSet: env ${n}: ${section}.${k} is not a map`);
    else if (entry === "") fail(`StatefulSet: env ${n}: empty map entry`);
  }
  for (const [n, ref] of Object.entries(opts.secretEnv)) {
    const e = env[envIndex(n)];
    const got = e?.valueFrom?.secretKeyRef ? `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}` : null;
    if (got !== ref) fail(`StatefulSet: env ${n} is ${got ? `from secret ${got}` : "not from a secretKeyRef"}, expected ${ref}`);
  }
  if (config?.privacy?.pseudonymize_learner_ids && !config.privacy.key_file) {
    if (!env[envIndex(keyEnv)]?.valueFrom?.secretKeyRef) fail(`StatefulSet: pseudonymisation is on but ${keyEnv} is not from a Secret`);
  }
}

// Services: the headless one is the StatefulSet's serviceName; selectors match the pods.
const services = byKind("Service");
for (const svc of services) {
  if (!matches(svc.spec?.selector, podLabels)) fail(`Service ${svc.metadata.name}: selector does not match the pod labels`);
  for (const p of svc.spec?.ports ?? []) {
    if (p.targetPort !== "http" && p.targetPort !== 8080) fail(`Service ${svc.metadata.name}: port ${p.name} does not target the http port`);
  }
  if (!(svc.spec?.ports ?? []).some((p) => p.name === "http")) fail(`Service ${svc.metadata.name}: no port named http`);
}
const headless = services.find((s) => s.metadata.name === ss.spec?.serviceName);
if (!headless) fail(`StatefulSet: serviceName ${ss.spec?.serviceName} is not a rendered Service`);
else if (headless.spec?.clusterIP !== "None") fail(`Service ${headless.metadata.name}: the StatefulSet's service is not headless`);
if (!services.some((s) => s.spec?.clusterIP !== "None")) fail("no regular (non-headless) Service");

for (const pdb of byKind("PodDisruptionBudget")) {
  if (!matches(pdb.spec?.selector?.matchLabels, podLabels)) fail(`PodDisruptionBudget ${pdb.metadata.name}: selector does not match the pod labels`);
  if (pdb.spec?.maxUnavailable === undefined) fail(`PodDisruptionBudget ${pdb.metadata.name}: no maxUnavailable`);
}

for (const sm of byKind("ServiceMonitor")) {
  const selected = services.filter((s) => matches(sm.spec?.selector?.matchLabels, s.metadata?.labels));
  if (selected.length !== 1) fail(`ServiceMonitor ${sm.metadata.name}: selects ${selected.length} Services (want exactly the regular one)`);
  else if (selected[0].spec?.clusterIP === "None") fail(`ServiceMonitor ${sm.metadata.name}: selects the headless Service`);
  for (const ep of sm.spec?.endpoints ?? []) {
    if (!selected.every((s) => (s.spec?.ports ?? []).some((p) => p.name === ep.port))) fail(`ServiceMonitor ${sm.metadata.name}: port ${ep.port} is not a port of the Service`);
    if (ep.path !== "/metrics") fail(`ServiceMonitor ${sm.metadata.name}: path ${ep.path} is not /metrics`);
  }
}

for (const pr of byKind("PrometheusRule")) {
  const groups = pr.spec?.groups ?? [];
  if (groups.length === 0) fail(`PrometheusRule ${pr.metadata.name}: no rule groups`);
  for (const g of groups) if (!(g.rules ?? []).length) fail(`PrometheusRule ${pr.metadata.name}: group ${g.name} has no rules`);
}

// Grafana dashboards: ConfigMaps carrying the sidecar label, every data value a JSON object.
const dashboards = byKind("ConfigMap").filter((c) => c !== configMap);
for (const cm of dashboards) {
  const entries = Object.entries(cm.data ?? {});
  if (entries.length === 0) fail(`ConfigMap ${cm.metadata.name}: no data`);
  for (const [k, v] of entries) {
    try {
      if (!isObj(JSON.parse(v))) throw new Error("not a JSON object");
    } catch (e) {
      fail(`ConfigMap ${cm.metadata.name}/${k}: dashboard is not JSON: ${e.message}`);
    }
  }
}
if (opts.dashboards !== null && dashboards.length !== opts.dashboards) fail(`expected ${opts.dashboards} dashboard ConfigMap(s), rendered ${dashboards.length}`);

if (errors.length) {
  for (const e of errors) console.error(`validate_manifests: ${opts.file}: ${e}`);
  process.exit(1);
}
const summary = Object.entries(kinds).sort().map(([k, n]) => `${n} ${k}`).join(", ");
console.log(`validated ${docs.length} manifests in ${opts.file}: ${summary}`);
