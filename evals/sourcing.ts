import fs from "node:fs/promises";
import { fitAnalyst } from "../flows/sourcing/agents/fit-analyst.js";
import { companyProfiler } from "../flows/sourcing/agents/profiler.js";
import { parseThesis, ThesisError, type Thesis } from "../flows/sourcing/agents/thesis.js";
import { InputError } from "../runtime/errors.js";
import { discovery, readStartupsCsv } from "../flows/sourcing/run/ingest.js";

/** The back-test: how well the fit score (rules tier) told the companies that exited from those that died by 2014. */
export interface SourcingEval {
  data: string;
  thesis: { file: string; name: string; threshold: number; criteria: string[] };
  companies: number;
  exited: number;
  dead: number;
  /** Operating companies: no outcome yet, left out. */
  operating: number;
  /** Area under the ROC curve of the fit score, Exited positive, Dead negative (ties count half). */
  auc: number;
  /** At the thesis' threshold: the share of fits that exited, and the share of exits that were fits. */
  precision: number;
  recall: number;
  mean_score: { exited: number; dead: number };
}

/** AUC as the Mann-Whitney statistic: the chance a random positive outscores a random negative. */
export function auc(positives: number[], negatives: number[]): number {
  if (!positives.length || !negatives.length) return NaN;
  let wins = 0;
  for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (positives.length * negatives.length);
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** A startup's outcome by 2014 ("Satus" in the file's header): Exited or Dead; null while still operating. */
export function outcomeOf(row: { cells: Record<string, string | undefined> }): "Exited" | "Dead" | null {
  const status = (row.cells["Satus"] ?? row.cells["Status"] ?? "").trim();
  return status === "Exited" || status === "Dead" ? status : null;
}

/** The thesis a back-test scores against; a missing or malformed file is an InputError naming --thesis. */
export async function readThesisFile(file: string): Promise<Thesis> {
  const text = await fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`--thesis ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  });
  try {
    return parseThesis(text);
  } catch (e) {
    throw e instanceof ThesisError ? new InputError(`--thesis ${file}: ${e.message}`) : e;
  }
}

/** The input the fit analyst gets for a row, as the stages build it (the status left out); null for an invalid row. */
export function fitInputOf(row: Parameters<typeof discovery>[0], thesis: Thesis, data: string) {
  const d = discovery(row, thesis, data);
  return "invalid" in d ? null : { profile: companyProfiler.rules(d.event.payload.company), thesis };
}

/**
 * Scores every company of a Startups.csv with the profiler and fit analyst's rules tiers (the
 * same code the stages run, no model), against the 2014 status. The status never reaches the
 * scorer: the discovery event leaves it out.
 */
export async function evaluateSourcing(opts: { data: string; thesisFile: string }): Promise<SourcingEval> {
  const thesis = await readThesisFile(opts.thesisFile);
  const rows = await readStartupsCsv(opts.data);
  const scores: Record<"Exited" | "Dead", number[]> = { Exited: [], Dead: [] };
  const fits: Record<"Exited" | "Dead", number> = { Exited: 0, Dead: 0 };
  let operating = 0;
  for (const row of rows) {
    const status = outcomeOf(row);
    if (!status) {
      operating++;
      continue;
    }
    const input = fitInputOf(row, thesis, opts.data);
    if (!input) continue;
    const fit = fitAnalyst.rules(input);
    scores[status].push(fit.score);
    if (fit.fits) fits[status]++;
  }
  return {
    data: opts.data,
    thesis: {
      file: opts.thesisFile,
      name: thesis.name,
      threshold: thesis.threshold,
      criteria: thesis.criteria.map((c) => `${c.kind}: ${c.values.join(", ")} (${c.points > 0 ? "+" : ""}${c.points})`),
    },
    companies: rows.length,
    exited: scores.Exited.length,
    dead: scores.Dead.length,
    operating,
    auc: r3(auc(scores.Exited, scores.Dead)),
    precision: r3(fits.Exited / Math.max(1, fits.Exited + fits.Dead)),
    recall: r3(fits.Exited / Math.max(1, scores.Exited.length)),
    mean_score: { exited: r3(mean(scores.Exited)), dead: r3(mean(scores.Dead)) },
  };
}

export function formatSourcingEval(e: SourcingEval): string {
  return [
    `sourcing back-test on ${e.data}: ${e.exited} exited vs ${e.dead} dead (${e.operating} still operating, left out)`,
    `thesis: "${e.thesis.name}" (${e.thesis.file}), threshold ${e.thesis.threshold}`,
    ...e.thesis.criteria.map((c) => `  - ${c}`),
    `AUC of the fit score: ${e.auc}`,
    `at the threshold: precision ${e.precision} (fits that exited), recall ${e.recall} (exits that were fits)`,
    `mean score: exited ${e.mean_score.exited}, dead ${e.mean_score.dead}`,
  ].join("\n");
}
