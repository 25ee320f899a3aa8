#!/usr/bin/env node
import { setMaxListeners } from "node:events";
import fs from "node:fs/promises";
import path from "node:path";
import { Command, CommanderError, Option } from "commander";
import { checkAgentTiers, loadConfig, type Config } from "../runtime/config.js";
import { InputError } from "../runtime/errors.js";
import { runPortfolio } from "./portfolio.js";
import { announceTiers, runContractReview, printRuns, printRun } from "./run.js";
import { openApp, type App } from "../app/app.js";
import { evaluateContractReview } from "../evals/contract-review.js";
import { evaluateNab, formatNab } from "../evals/nab.js";
import { addDeadLetterCommands, readJsonFile } from "./dlq.js";
import { addPruneCommand } from "./prune.js";
import { positiveInt } from "./format.js";
import { addQueueCommands } from "./queue.js";
import { addStatusCommand } from "./status.js";
import { addAlertsCommand } from "./alerts.js";
import { addScheduleCommand } from "./schedule.js";
import { addSourcingCommands } from "./sourcing.js";
import { evaluateSourcing, formatSourcingEval } from "../evals/sourcing.js";
import { addTraceCommand } from "./trace.js";
import { addDataCommands } from "./data.js";
import { createTierSet } from "../runtime/models/models.js";
import { FLOW_AGENTS } from "../flows/index.js";
import type { RunStatus } from "../runtime/runs/flow-runner.js";

const FLOWS = ["contract-review", "portfolio-monitoring"] as const;

interface RunCommandOptions {
  input?: string;
  requestId?: string;
  playbook?: string;
  autoApprove: boolean;
  concurrency?: number;
  fundamentals?: string;
  tickers?: string;
  year?: number;
  kpis?: string;
  period?: string;
  onExhausted?: "escalate" | "dead_letter";
  json: boolean;
}
const STATUSES: RunStatus[] = ["queued", "running", "completed", "awaiting_review", "failed", "dead_lettered"];

/** Exit codes: 0 done, 1 a run failed, 2 bad input or usage. */
export const EXIT = { ok: 0, runFailed: 1, badInput: 2 } as const;

function config(): Config {
  return loadConfig(process.env);
}

/** An evaluation's tiers: the flows' chain and the agents' own, as a worker would have them. */
function tiersOfEval(cfg: Config) {
  checkAgentTiers(cfg, FLOW_AGENTS);
  const { tiers, agentTiers } = createTierSet(cfg);
  return { tiers, agentTiers };
}

/** `opts`: the job queue too (a sourcing stage's run carried on publishes its next event); runs at once. */
async function withApp<T>(fn: (app: App) => Promise<T>, opts: { queue?: boolean; concurrency?: number } = {}): Promise<T> {
  const cfg = config();
  const app = await openApp(cfg, opts);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

// A flow's parallel tasks (20 companies at once) each listen on the run's abort signal:
// Node's default of 10 listeners per signal would warn of a leak that is not one.
setMaxListeners(100);

export function buildProgram(): Command {
  const program = new Command("opsgraph")
    .description("Run teams of LLM agents as durable LangGraph flows on PostgreSQL.")
    // A usage error is one line, like every bad-input error: `opsgraph: <what is wrong> (...--help)`.
    .configureOutput({
      outputError: (str, write) =>
        write(
          `opsgraph: ${str
            .replace(/^error: /, "")
            .trim()
            .replace(/\s*\n\s*/g, " ")} (run with --help for usage)\n`,
        ),
    })
    .exitOverride();

  program
    .command("run")
    .description("Run a flow: contract-review on a file or a directory of contracts; portfolio-monitoring on a portfolio")
    .addArgument(new Command().createArgument("<flow>", "the flow to run").choices(FLOWS))
    .option(
      "--input <path>",
      "contract-review: a contract (.txt, .md, .pdf, .docx) or a directory of them; portfolio-monitoring: a portfolio file (YAML or JSON)",
    )
    .option("--request-id <id>", "idempotency key: the same id is the same run (default: a hash of the flow and its input)")
    .option("--playbook <file>", "contract-review: YAML or JSON playbook of the company's positions (default: the built-in playbook)")
    .option("--auto-approve", "contract-review: approve without a person, whatever the risk score (for unattended runs)", false)
    .option("--concurrency <n>", "contract-review: contracts reviewed at once in a batch (default: OPSGRAPH_CONCURRENCY, 4)", positiveInt)
    .option("--fundamentals <csv>", "portfolio-monitoring: annual fundamentals, in the format of the S&P 500 fundamentals.csv")
    .option("--tickers <list>", "portfolio-monitoring: the companies, comma-separated (e.g. AAL,DAL,UAL)")
    .option("--year <year>", "portfolio-monitoring: the fiscal year under review (default: each company's latest)", positiveInt)
    .option("--kpis <dir>", "portfolio-monitoring: a directory of KPI series, <TICKER>/<series>.csv of timestamp,value")
    .addOption(
      new Option("--period <period>", "portfolio-monitoring: the period KPI series are resampled to (default: week)").choices(["day", "week", "month"]),
    )
    .addOption(
      new Option(
        "--on-exhausted <policy>",
        "when every tier of an agent failed: escalate to a person, or dead-letter the run (default: OPSGRAPH_ON_EXHAUSTED, else dead_letter)",
      ).choices(["escalate", "dead_letter"]),
    )
    .option("--json", "print one JSON object per run, one per line, on stdout", false)
    .action(async (flow: string, opts: RunCommandOptions) => {
      const base = config();
      const cfg = opts.onExhausted ? { ...base, onExhausted: opts.onExhausted } : base;
      if (flow === "portfolio-monitoring") {
        process.exitCode = await runPortfolio(cfg, opts);
        return;
      }
      if (!opts.input) throw new InputError("contract-review: --input <path> is required (a contract or a directory of them)");
      process.exitCode = await runContractReview(cfg, { ...opts, input: opts.input });
    });

  program
    .command("resume")
    .description("Answer what a paused run waits for (a human review, or an escalated agent's output) and finish the run")
    .argument("<run_id>", "the run awaiting review")
    .addOption(new Option("--decision <decision>", "approve or reject the contract; reject also refuses an escalation").choices(["approve", "reject"]))
    .option("--output <file>", "a JSON file with the escalated agent's output (see opsgraph runs show <run_id>)")
    .option("--note <text>", "why, kept with the decision")
    .option("--json", "print the run as one JSON object", false)
    .action(async (runId: string, opts: { decision?: "approve" | "reject"; output?: string; note?: string; json: boolean }) => {
      if (!opts.decision && !opts.output) throw new InputError("resume: give --decision approve|reject, or --output FILE for an escalated agent");
      const output = opts.output ? await readJsonFile(opts.output) : undefined;
      // the run's own flow's graph goes on (a sourcing stage then publishes its next event: the queue is open)
      const run = await withApp((app) => app.registry.resume(runId, { decision: opts.decision, note: opts.note, output }), { queue: true });
      printRun(run, opts.json);
      process.exitCode = run.status === "failed" || run.status === "dead_lettered" ? EXIT.runFailed : EXIT.ok;
    });

  addDeadLetterCommands(program, withApp);
  addStatusCommand(program, withApp);
  addAlertsCommand(program, withApp);
  addPruneCommand(program, withApp);
  addScheduleCommand(program, withApp);
  addSourcingCommands(program, withApp);
  addTraceCommand(program, withApp);
  addQueueCommands(program, config);
  addDataCommands(program);

  const runs = program.command("runs").description("List and show runs");
  runs
    .command("list")
    .description("List runs of every flow, newest first")
    .addOption(new Option("--status <status>", "only runs with this status").choices(STATUSES))
    .option("--flow <flow>", "only runs of this flow: contract-review, portfolio-monitoring, sourcing (every stage) or sourcing.<stage>")
    .option("--limit <n>", "at most this many runs", positiveInt, 100)
    .option("--json", 'print { "runs": [...] } as one JSON object', false)
    .action(async (opts: { status?: RunStatus; flow?: string; limit: number; json: boolean }) => {
      const list = await withApp((app) => app.registry.list({ status: opts.status, flow: opts.flow, limit: opts.limit }));
      printRuns(list, opts.json);
    });
  runs
    .command("show")
    .description("Show one run with its result")
    .argument("<run_id>", "the run")
    .option("--json", "print the run as one JSON object", false)
    .action(async (runId: string, opts: { json: boolean }) => {
      const run = await withApp((app) => app.registry.show(runId));
      printRun(run, opts.json);
    });

  program
    .command("eval")
    .description("Evaluate a flow on a labelled dataset")
    .addArgument(new Command().createArgument("<flow>", "the flow to evaluate").choices([...FLOWS, "sourcing"]))
    .requiredOption(
      "--data <dir>",
      "contract-review: a folder in the CUAD format (labels.jsonl, contracts/<id>.txt); portfolio-monitoring: the NAB folder (data/<family>/<series>.csv, labels/combined_windows.json)",
    )
    .option("--out <file>", "contract-review: where to write the Markdown report (default: evals/results/<flow>-<timestamp>.md)")
    .option("--concurrency <n>", "contract-review: contracts evaluated at once", positiveInt, 4)
    .addOption(
      new Option("--period <period>", "portfolio-monitoring: the reporting period series are resampled to").choices(["hour", "day", "week"]).default("day"),
    )
    .option("--thesis <file>", "sourcing: the investment thesis the fit score is back-tested for", "samples/thesis.md")
    .option(
      "--json",
      "print one JSON object (contract-review: macro_f1 and per_category; portfolio-monitoring: precision, recall, per_family; sourcing: auc, thesis)",
      false,
    )
    .action(async (flow: string, opts: { data: string; out?: string; concurrency: number; period: "hour" | "day" | "week"; thesis: string; json: boolean }) => {
      if (flow === "sourcing") {
        // the fit score (rules tier) of a Startups.csv against its 2014 status: Exited versus Dead
        const r = await evaluateSourcing({ data: opts.data, thesisFile: opts.thesis });
        process.stdout.write(opts.json ? JSON.stringify({ flow, ...r }) + "\n" : `${formatSourcingEval(r)}\n`);
        return;
      }
      if (flow === "portfolio-monitoring") {
        // the rules tier's anomaly flagging (flows/portfolio-monitoring/agents/kpi-anomalies.ts) against NAB's labelled windows
        const r = await evaluateNab(opts.data, { period: opts.period });
        process.stdout.write(opts.json ? JSON.stringify({ flow, data: opts.data, ...r }) + "\n" : `${formatNab(r)}\n`);
        return;
      }
      const cfg = config();
      announceTiers(cfg);
      const tty = process.stderr.isTTY;
      const result = await evaluateContractReview({
        data: opts.data,
        ...tiersOfEval(cfg),
        concurrency: opts.concurrency,
        onProgress: (done, total) => {
          if (tty) process.stderr.write(`\r  evaluated ${done}/${total}`);
          else if (done === total || done % 10 === 0) process.stderr.write(`evaluated ${done}/${total}\n`);
        },
      });
      if (tty) process.stderr.write("\n");
      const out = opts.out ?? path.join("evals", "results", `contract-review-${new Date().toISOString().replace(/[:.]/g, "-")}.md`);
      await fs.mkdir(path.dirname(out), { recursive: true });
      await fs.writeFile(out, result.markdown);
      if (opts.json) {
        process.stdout.write(
          JSON.stringify({
            flow: "contract-review",
            data: opts.data,
            contracts: result.score.contracts,
            tiers: result.tiers,
            model_calls: result.model_calls,
            duration_ms: result.duration_ms,
            macro_f1: result.score.macro_f1,
            macro_f1_all: result.score.macro_f1_all,
            per_category: result.score.per_category,
            report_path: out,
          }) + "\n",
        );
      } else {
        process.stdout.write(result.markdown + `\nreport: ${out}\n`);
      }
    });

  return program;
}

async function main(argv: string[]) {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; any usage error is a bad-input exit
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.badInput;
      return;
    }
    if (e instanceof InputError) {
      process.stderr.write(`opsgraph: ${e.message}\n`);
      process.exitCode = EXIT.badInput;
      return;
    }
    process.stderr.write(`opsgraph: ${(e as Error).message ?? String(e)}\n`);
    process.exitCode = EXIT.runFailed;
  }
}

await main(process.argv);
