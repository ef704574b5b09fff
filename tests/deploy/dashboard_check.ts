// Type and sanity check of the learnflow Grafana dashboard
// (helm/learnflow/files/dashboards/learnflow.json). Run by tests/deploy/dashboard_test.sh:
//  - `tsc --noEmit` checks the JSON against the `Dashboard` type published in npm `@grafana/schema`;
//  - the compiled file, run with node, checks what the types cannot (ids, datasources, queries).
//
// A JSON module's inferred type widens every string to `string`, and Grafana's types use string
// enums (`ThresholdsMode`, `FieldColorModeId`, ...) and literal unions (`VariableType`, `'row'`)
// that a JSON value can never be assignable to as such. So the import is checked against
// `JsonImport<Dashboard>` (every string-like type widened to `string`, everything else — shape,
// numbers, booleans, arrays, required fields — as Grafana declares it). dashboard_test.sh also
// pastes the JSON into a generated .ts file as an object literal typed `JsonLiteral<Dashboard>`
// (string enums replaced by their values, literal unions kept), where excess-property checks
// catch misspelt or unknown keys and literal checks catch wrong enum values.

import type { Dashboard } from '@grafana/schema';
import dashboardJson from '../../helm/learnflow/files/dashboards/learnflow.json';

/** Grafana's type as a JSON object literal can satisfy it: string enums become their values. */
export type JsonLiteral<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<JsonLiteral<U>>
      : T extends object
        ? { [K in keyof T]: JsonLiteral<T[K]> }
        : T;

/** Grafana's type as an imported JSON module can satisfy it: every string-like type is `string`. */
export type JsonImport<T> = T extends string
  ? string
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<JsonImport<U>>
      : T extends object
        ? { [K in keyof T]: JsonImport<T[K]> }
        : T;

// The compile-time check: fails `tsc --noEmit` when the JSON does not fit Grafana's schema types.
export const dashboard: JsonImport<Dashboard> = dashboardJson;

// No @types/node: the tsconfig sets "types": [], so declare the two globals used at run time.
declare const console: { log(...args: unknown[]): void; error(...args: unknown[]): void };
declare const process: { exitCode?: number };

const EXPECTED_DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const COHORT_FILTER = 'cohort=~"${cohort:regex}"';
const GRID_COLUMNS = 24;

type AnyPanel = NonNullable<typeof dashboard.panels>[number];
type Rect = { title: string; h: number; w: number; x: number; y: number };

/** `learnflow_*` metric names in a PromQL expression, as exported (histograms as `_bucket` etc.). */
export function metricNames(expr: string): string[] {
  return expr.match(/\blearnflow_[a-zA-Z0-9_]+/g) ?? [];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkDashboard(d: typeof dashboard): { errors: string[]; summary: string } {
  const errors: string[] = [];
  const ids = new Map<number, string>();
  const rects: Rect[] = [];
  const metrics = new Set<string>();
  let panelCount = 0;
  let targetCount = 0;
  const rows: string[] = [];

  if (d.uid !== 'learnflow-overview') errors.push(`uid is ${JSON.stringify(d.uid)}, want "learnflow-overview"`);
  if (d.title !== 'learnflow') errors.push(`title is ${JSON.stringify(d.title)}, want "learnflow"`);
  if (d.schemaVersion < 39) errors.push(`schemaVersion ${d.schemaVersion} < 39`);

  // Template variables.
  const vars = d.templating?.list ?? [];
  const dsVar = vars.find((v) => v.name === 'datasource');
  if (!dsVar || dsVar.type !== 'datasource' || dsVar.query !== 'prometheus') {
    errors.push('templating: need a variable "datasource" of type "datasource" with query "prometheus"');
  }
  const cohortVar = vars.find((v) => v.name === 'cohort');
  if (!cohortVar) {
    errors.push('templating: no variable "cohort"');
  } else {
    const q = isRecord(cohortVar.query) ? cohortVar.query.query : cohortVar.query;
    if (typeof q !== 'string' || !/^label_values\(\s*learnflow_cohort_active_learners\s*,\s*cohort\s*\)$/.test(q)) {
      errors.push(`templating: cohort query ${JSON.stringify(q)} is not label_values(learnflow_cohort_active_learners, cohort)`);
    } else {
      metricNames(q).forEach((m) => metrics.add(m));
    }
    if (cohortVar.multi !== true || cohortVar.includeAll !== true) errors.push('templating: cohort must be multi with include all');
    if (JSON.stringify(cohortVar.datasource) !== JSON.stringify(EXPECTED_DATASOURCE)) {
      errors.push(`templating: cohort datasource ${JSON.stringify(cohortVar.datasource)}, want ${JSON.stringify(EXPECTED_DATASOURCE)}`);
    }
  }

  const visit = (p: AnyPanel, where: string): void => {
    const name = `${where}panel ${JSON.stringify(p.title ?? '')} (id ${String(p.id)})`;
    if (typeof p.id !== 'number') {
      errors.push(`${name}: no numeric id`);
    } else if (ids.has(p.id)) {
      errors.push(`${name}: id ${p.id} already used by ${ids.get(p.id)}`);
    } else {
      ids.set(p.id, name);
    }
    const g = p.gridPos;
    if (!g || ![g.h, g.w, g.x, g.y].every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0)) {
      errors.push(`${name}: gridPos missing or not non-negative integers`);
    } else {
      if (g.h < 1 || g.w < 1 || g.x + g.w > GRID_COLUMNS) errors.push(`${name}: gridPos ${JSON.stringify(g)} outside the 24-column grid`);
      rects.push({ title: name, h: g.h, w: g.w, x: g.x, y: g.y });
    }
    if (!p.title) errors.push(`${name}: no title`);

    if (p.type === 'row') {
      rows.push(p.title ?? '');
      const nested = 'panels' in p && Array.isArray(p.panels) ? p.panels : [];
      nested.forEach((c) => visit(c, `row ${JSON.stringify(p.title)} > `));
      return;
    }

    panelCount++;
    if (JSON.stringify(p.datasource) !== JSON.stringify(EXPECTED_DATASOURCE)) {
      errors.push(`${name}: datasource ${JSON.stringify(p.datasource)}, want ${JSON.stringify(EXPECTED_DATASOURCE)}`);
    }
    const targets = 'targets' in p && Array.isArray(p.targets) ? p.targets : [];
    if (targets.length === 0) errors.push(`${name}: no targets`);
    const refIds = new Set<string>();
    for (const t of targets) {
      targetCount++;
      const expr = t.expr;
      if (typeof expr !== 'string' || expr.trim() === '') {
        errors.push(`${name}: target ${JSON.stringify(t.refId)} has no expr`);
        continue;
      }
      if (typeof t.refId !== 'string' || refIds.has(t.refId)) errors.push(`${name}: target refId missing or repeated`);
      else refIds.add(t.refId);
      if (t.datasource !== undefined && JSON.stringify(t.datasource) !== JSON.stringify(EXPECTED_DATASOURCE)) {
        errors.push(`${name}: target ${t.refId} datasource ${JSON.stringify(t.datasource)}`);
      }
      const names = metricNames(expr);
      if (names.length === 0) errors.push(`${name}: expr ${JSON.stringify(expr)} uses no learnflow_* metric`);
      names.forEach((m) => metrics.add(m));
      if (names.some((m) => m.startsWith('learnflow_cohort_')) && !expr.includes(COHORT_FILTER)) {
        errors.push(`${name}: cohort expr ${JSON.stringify(expr)} lacks ${COHORT_FILTER}`);
      }
      if (/\[\d+[smhd]\]/.test(expr)) errors.push(`${name}: expr ${JSON.stringify(expr)} uses a fixed range; use [$__rate_interval]`);
    }
  };
  (d.panels ?? []).forEach((p) => visit(p, ''));

  if (JSON.stringify(rows) !== JSON.stringify(['Cohorts', 'Engine'])) {
    errors.push(`rows are ${JSON.stringify(rows)}, want ["Cohorts","Engine"]`);
  }
  for (let i = 0; i < rects.length; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      const a = rects[i];
      const b = rects[j];
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
        errors.push(`gridPos of ${a.title} overlaps ${b.title}`);
      }
    }
  }

  const summary =
    `${panelCount} panels in ${rows.length} rows, ${targetCount} queries, ` +
    `${metrics.size} learnflow metrics, ids unique, gridPos set, datasource \${datasource} everywhere`;
  return { errors, summary };
}

const { errors, summary } = checkDashboard(dashboard);
if (errors.length > 0) {
  for (const e of errors) console.error(`dashboard_check: ${e}`);
  console.error(`dashboard_check: FAILED (${errors.length} problems)`);
  process.exitCode = 1;
} else {
  console.log(summary);
}
