// `npm run eval`: every evaluation suite on real public data, on the rules tier and on the
// scripted model, through langsmith's evaluate() (offline; uploaded as experiments when
// LANGSMITH_API_KEY is set). Writes evals/results/<timestamp>.json and .md, compares with
// evals/thresholds.json, and exits 1 on a regression beyond tolerance (2 on bad input).
//
//   npm run eval -- [--cuad DIR] [--nab DIR] [--suite NAME ...] [--out DIR]
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { compareWithThresholds, summaryMarkdown, type SuiteRun } from "./thresholds.js";
import { contractReviewSuite } from "./suites/contract-review.js";
import { portfolioNabSuite } from "./suites/portfolio-nab.js";
import { sourcingSuite } from "./suites/sourcing.js";
import { startScriptedModel } from "./scripted-model.js";
import { datasetsDir, loadConfig } from "../runtime/config.js";
import { existsSync } from "node:fs";
import { createModelTiers } from "../runtime/models/models.js";

// the public evaluation data: OPSGRAPH_DATASETS (.ci/run sets it), else ../shared/datasets, else .opsgraph/datasets
const DATA = datasetsDir(process.env);

const { values } = parseArgs({
  options: {
    cuad: { type: "string", default: path.join(DATA, "cuad/dev") },
    nab: { type: "string", default: path.join(DATA, "portfolio/nab-kpi-anomalies") },
    startups: { type: "string", default: path.join(DATA, "sourcing/yc-startups-2005-2014/Startups.csv") },
    thesis: { type: "string", default: path.join("samples", "thesis.md") },
    suite: { type: "string", multiple: true },
    out: { type: "string", default: path.join("evals", "results") },
    thresholds: { type: "string", default: path.join("evals", "thresholds.json") },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "npm run eval -- [--cuad DIR] [--nab DIR] [--suite NAME]... [--out DIR] [--thresholds FILE]\n" +
      "  (defaults are under $OPSGRAPH_DATASETS, else ../shared/datasets, else .opsgraph/datasets; get the data with npx opsgraph data fetch <flow>)\n" +
      "  --cuad DIR         a CUAD-format folder for contract review (default cuad/dev)\n" +
      "  --nab DIR          the NAB folder for portfolio anomaly flagging (default portfolio/nab-kpi-anomalies)\n" +
      "  --startups FILE    a Startups.csv for the sourcing back-test (default sourcing/yc-startups-2005-2014/Startups.csv)\n" +
      "  --thesis FILE      the investment thesis it scores against (default samples/thesis.md)\n" +
      "  --suite NAME       run only this suite (repeatable): contract-review/rules, contract-review/scripted-model, portfolio-monitoring/nab-day,\n" +
      "                     portfolio-monitoring/nab-day-scripted-model, sourcing/backtest, sourcing/backtest-scripted-model\n" +
      "  --out DIR          where <timestamp>.json and <timestamp>.md go (default evals/results)\n" +
      "  --thresholds FILE  minimums and tolerances (default evals/thresholds.json)\n" +
      "With a model configured as for the CLI (OPSGRAPH_MODELS, OPENAI_API_KEY or OPENAI_BASE_URL), every suite also runs on it\n" +
      "(<suite>/model, reported but not gated); with LANGSMITH_API_KEY each suite is uploaded as an experiment.\n",
  );
  process.exit(0);
}
const upload = Boolean(process.env.LANGSMITH_API_KEY);
const stamp = new Date().toISOString().replace(/[:.]/g, "-");

type Suite = { name: string; data: string; run: () => Promise<SuiteRun["result"]> };
const scripted = await startScriptedModel();
// a model configured the way the CLI takes it (OPSGRAPH_MODELS, OPENAI_API_KEY / OPENAI_BASE_URL): every suite on it too, reported, not gated
const model = createModelTiers(loadConfig(process.env));
const suites: Suite[] = [
  {
    name: "contract-review/rules",
    data: values.cuad!,
    run: () => contractReviewSuite({ data: values.cuad!, tiers: [], name: `contract-review-rules-${stamp}`, upload }),
  },
  {
    name: "contract-review/scripted-model",
    data: values.cuad!,
    run: () => contractReviewSuite({ data: values.cuad!, tiers: scripted.tiers, name: `contract-review-scripted-${stamp}`, upload }),
  },
  {
    name: "portfolio-monitoring/nab-day",
    data: values.nab!,
    run: () => portfolioNabSuite({ data: values.nab!, period: "day", name: `portfolio-nab-day-${stamp}`, upload }),
  },
  {
    name: "portfolio-monitoring/nab-day-scripted-model",
    data: values.nab!,
    run: () => portfolioNabSuite({ data: values.nab!, period: "day", name: `portfolio-nab-day-scripted-${stamp}`, upload, tiers: scripted.tiers }),
  },
  {
    name: "sourcing/backtest",
    data: values.startups!,
    run: () => sourcingSuite({ data: values.startups!, thesisFile: values.thesis!, name: `sourcing-backtest-${stamp}`, upload }),
  },
  {
    name: "sourcing/backtest-scripted-model",
    data: values.startups!,
    run: () =>
      sourcingSuite({ data: values.startups!, thesisFile: values.thesis!, name: `sourcing-backtest-scripted-${stamp}`, upload, tiers: scripted.tiers }),
  },
  ...(model.length
    ? [
        {
          name: "contract-review/model",
          data: values.cuad!,
          run: () => contractReviewSuite({ data: values.cuad!, tiers: model, name: `contract-review-model-${stamp}`, upload }),
        },
        {
          name: "portfolio-monitoring/nab-day-model",
          data: values.nab!,
          run: () => portfolioNabSuite({ data: values.nab!, period: "day", name: `portfolio-nab-day-model-${stamp}`, upload, tiers: model }),
        },
        {
          name: "sourcing/backtest-model",
          data: values.startups!,
          run: () => sourcingSuite({ data: values.startups!, thesisFile: values.thesis!, name: `sourcing-backtest-model-${stamp}`, upload, tiers: model }),
        },
      ]
    : []),
];
const wanted = values.suite?.length ? suites.filter((s) => values.suite!.includes(s.name)) : suites;
if (values.suite?.some((n) => !suites.some((s) => s.name === n))) {
  process.stderr.write(`eval: --suite: unknown suite (known: ${suites.map((s) => s.name).join(", ")})\n`);
  process.exit(2);
}

// data missing: one line saying how to get it, before any suite runs
for (const s of wanted) {
  if (existsSync(s.data)) continue;
  const flow = s.name.split("/")[0]!;
  process.stderr.write(`eval: ${s.name}: no data at ${s.data} (set OPSGRAPH_DATASETS, or fetch it: npx opsgraph data fetch ${flow})\n`);
  await scripted.close();
  process.exit(2);
}

const runs: SuiteRun[] = [];
try {
  for (const s of wanted) {
    process.stderr.write(`eval: ${s.name} ...\n`);
    try {
      runs.push({ name: s.name, result: await s.run() });
    } catch (e) {
      process.stderr.write(`eval: ${s.name}: ${(e as Error).message.split("\n")[0]}\n`);
      process.exit(2);
    }
  }
} finally {
  await scripted.close();
}

const thresholds = JSON.parse(await fs.readFile(values.thresholds!, "utf8")) as Record<string, unknown>;
const verdicts = compareWithThresholds(runs, thresholds);
const report = { at: new Date().toISOString(), uploaded: upload, suites: runs, verdicts };
await fs.mkdir(values.out!, { recursive: true });
const jsonPath = path.join(values.out!, `${stamp}.json`);
const mdPath = path.join(values.out!, `${stamp}.md`);
const markdown = summaryMarkdown(runs, verdicts);
await fs.writeFile(jsonPath, JSON.stringify(report, null, 2) + "\n");
await fs.writeFile(mdPath, markdown);
process.stdout.write(`${markdown}\nresults: ${jsonPath}, ${mdPath}\n`);
const failed = verdicts.filter((v) => !v.ok);
if (failed.length) {
  process.stderr.write(`eval: ${failed.length} regression(s): ${failed.map((v) => `${v.suite} ${v.metric} ${v.value.toFixed(3)} (${v.rule})`).join("; ")}\n`);
  process.exit(1);
}
