/**
 * Tuning aid for the rule-based clause extractor: runs it over a CUAD split and
 * prints the per-category table, macro F1 and the errors (false positives with
 * the excerpt that fired, false negatives with the first gold span).
 *
 *   npx tsx evals/tune-cuad-rules.ts [dir] [--category "Name"] [--quiet]
 *
 * dir defaults to ../shared/datasets/cuad/dev. Only ever tune on the dev split.
 */
import { performance } from "node:perf_hooks";
import { CATEGORY_NAMES, type CategoryName } from "../flows/contract-review/agents/categories.js";
import { extractClausesByRules, type ClauseFinding } from "../flows/contract-review/agents/clause-rules.js";
import { cuadReportMarkdown, loadCuadSplit, scoreCuad } from "./cuad.js";

const args = process.argv.slice(2);
let dir = "../shared/datasets/cuad/dev";
let only: string | null = null;
let quiet = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--category") only = args[++i] ?? null;
  else if (a === "--quiet") quiet = true;
  else if (a) dir = a;
}

const short = (s: string, n = 260) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n)}...` : t;
};

const contracts = await loadCuadSplit(dir);
const predictions = new Map<string, ClauseFinding[]>();
let slowest = { id: "", ms: 0, chars: 0 };
for (const c of contracts) {
  const t0 = performance.now();
  const findings = extractClausesByRules(c.text);
  const ms = performance.now() - t0;
  if (ms > slowest.ms) slowest = { id: c.id, ms, chars: c.text.length };
  predictions.set(c.id, findings);
}
const score = scoreCuad(contracts, predictions);

if (!quiet) {
  for (const name of CATEGORY_NAMES) {
    if (only && name !== only) continue;
    const errors: string[] = [];
    for (const c of contracts) {
      const gold = c.labels[name as CategoryName];
      const pred = predictions.get(c.id)?.find((f) => f.name === name);
      if (pred?.present && !gold.present) {
        errors.push(`  FP ${c.id}: ${pred.excerpts.map((e) => short(e.text)).join(" || ")}`);
      } else if (!pred?.present && gold.present) {
        errors.push(`  FN ${c.id}: ${short(gold.spans[0]?.text ?? "")}`);
      } else if (pred?.present && only) {
        errors.push(`  TP ${c.id} value=${JSON.stringify(pred.value)} gold=${JSON.stringify(gold.answer)}: ${short(pred.excerpts[0]?.text ?? "", 160)}`);
      }
    }
    if (errors.length > 0) console.log(`\n## ${name}\n${errors.join("\n")}`);
  }
}

console.log();
console.log(cuadReportMarkdown(score, { data: dir, tiers: ["core", "extended"], when: new Date().toISOString() }));
console.log(`slowest extraction: ${slowest.id} (${slowest.chars} chars) ${slowest.ms.toFixed(1)} ms`);
