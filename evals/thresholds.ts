import type { ExperimentResult } from "./experiment.js";

export interface SuiteRun {
  name: string;
  result: ExperimentResult;
}

export interface Verdict {
  suite: string;
  metric: string;
  value: number;
  rule: string;
  ok: boolean;
}

interface Rule {
  min?: number;
  max?: number;
  tolerance?: number;
}

/**
 * Each suite's metrics against its rules: a metric below `min - tolerance` or above
 * `max + tolerance` is a regression; a metric a rule names but the suite did not measure is
 * one too (a suite that lost a metric must not pass silently).
 */
export function compareWithThresholds(runs: SuiteRun[], thresholds: Record<string, unknown>): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const run of runs) {
    const rules = (thresholds[run.name] ?? {}) as Record<string, Rule>;
    for (const [metric, rule] of Object.entries(rules)) {
      const value = run.result.metrics[metric];
      const tol = rule.tolerance ?? 0;
      if (value === undefined || Number.isNaN(value)) {
        verdicts.push({ suite: run.name, metric, value: NaN, rule: "not measured", ok: false });
        continue;
      }
      if (rule.min !== undefined) verdicts.push({ suite: run.name, metric, value, rule: `>= ${rule.min} - ${tol}`, ok: value >= rule.min - tol - 1e-9 });
      if (rule.max !== undefined) verdicts.push({ suite: run.name, metric, value, rule: `<= ${rule.max} + ${tol}`, ok: value <= rule.max + tol + 1e-9 });
    }
  }
  return verdicts;
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(3));

/** The summary table: one row per suite and metric, with its rule and verdict. */
export function summaryMarkdown(runs: SuiteRun[], verdicts: Verdict[]): string {
  const lines = ["| suite | metric | value | rule | verdict |", "|---|---|---|---|---|"];
  for (const run of runs) {
    for (const [metric, value] of Object.entries(run.result.metrics)) {
      const vs = verdicts.filter((v) => v.suite === run.name && v.metric === metric);
      lines.push(
        `| ${run.name} | ${metric} | ${fmt(value)} | ${vs.map((v) => v.rule).join(", ") || "—"} | ${vs.length ? (vs.every((v) => v.ok) ? "ok" : "**regression**") : "—"} |`,
      );
    }
    for (const v of verdicts.filter((v) => v.suite === run.name && !(v.metric in run.result.metrics)))
      lines.push(`| ${run.name} | ${v.metric} | — | ${v.rule} | **regression** |`);
    lines.push(`| ${run.name} | (examples, seconds) | ${run.result.examples}, ${(run.result.duration_ms / 1000).toFixed(1)} | | |`);
  }
  return `# Evaluation summary\n\n${lines.join("\n")}\n`;
}
