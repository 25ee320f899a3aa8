import type { Command } from "commander";
import { chainText } from "../nodes/agent-step.js";
import { openApp, type App } from "../app/app.js";
import type { Config } from "../runtime/config.js";
import { InputError } from "../runtime/errors.js";
import { serveMetrics } from "../runtime/observability/metrics.js";
import { Schedules, submitThrough } from "../runtime/queue/schedules.js";
import { SCHEDULABLE_FLOWS } from "../flows/index.js";
import { Worker } from "../runtime/queue/worker.js";
import { positiveInt } from "./format.js";
import { readInputs } from "./run.js";

/** `opsgraph submit` and `opsgraph worker`: runs as jobs on the PostgreSQL queue. */
/** The worker's tiers, as it starts: the flows' chain and each agent's own, rules last. */
function tierLine(app: App): string {
  const chain = (tiers: readonly { id: string }[]) => chainText(tiers.map((t) => t.id));
  const own = Object.entries(app.tierSet.agentTiers).map(([agent, tiers]) => `; ${agent}: ${chain(tiers)}`);
  return `tiers ${app.tiers.length ? chain(app.tiers) : "rules only"}${own.join("")}`;
}

export function addQueueCommands(program: Command, config: () => Config) {
  program
    .command("submit")
    .description("Put runs on the job queue (opsgraph worker executes them); prints { run_id, request_id, status } per run")
    .argument("<flow>", "the flow to run (contract-review)")
    .requiredOption("--input <path>", "a contract (.txt, .md, .pdf, .docx) or a directory of them")
    .option("--request-id <id>", "idempotency key: the same id is the same run (default: a hash of flow, input bytes and playbook)")
    .option("--playbook <file>", "YAML or JSON playbook of the company's positions")
    .option("--auto-approve", "approve without a person, whatever the risk score", false)
    .option("--json", "print one JSON object per run, one per line", false)
    .action(async (flow: string, opts: { input: string; requestId?: string; playbook?: string; autoApprove: boolean; json: boolean }) => {
      if (flow !== "contract-review") throw new InputError(`flow ${flow}: not available (flows: contract-review)`);
      const cfg = config();
      const { documents, playbook } = await readInputs(cfg, opts);
      const app = await openApp(cfg, { queue: true });
      try {
        for (const document of documents) {
          const { run_id, request_id, status } = await app.contractReview.submit({
            document,
            playbook,
            requestId: opts.requestId,
            autoApprove: opts.autoApprove,
          });
          process.stdout.write(opts.json ? JSON.stringify({ run_id, request_id, status }) + "\n" : `${document.source}: run ${run_id} ${status}\n`);
        }
      } finally {
        await app.close();
      }
    });

  program
    .command("worker")
    .description("Execute queued runs until SIGTERM or SIGINT (which drains: in-flight runs stop at a checkpoint and go back to the queue)")
    .option("--concurrency <n>", "runs executed at once (default: OPSGRAPH_CONCURRENCY)", positiveInt)
    .option("--lease-ms <ms>", "a run whose worker stops renewing its lease for this long is picked up again (default: OPSGRAPH_LEASE_MS, 30000)", positiveInt)
    .option("--metrics-port <port>", "serve Prometheus metrics at http://127.0.0.1:<port>/metrics (0: any free port, printed)", (v: string) =>
      v === "0" ? 0 : positiveInt(v),
    )
    .action(async (opts: { concurrency?: number; leaseMs?: number; metricsPort?: number }) => {
      const cfg = config();
      const concurrency = opts.concurrency ?? cfg.concurrency;
      // listen before anything starts: a SIGTERM during start-up drains as soon as the worker is up
      let signalled: string | undefined;
      let onSignal: (signal: string) => void = (signal) => (signalled = signal);
      process.once("SIGTERM", () => onSignal("SIGTERM"));
      process.once("SIGINT", () => onSignal("SIGINT"));
      const app = await openApp(cfg, { queue: true, concurrency });
      const worker = new Worker({
        pool: app.db.pool,
        queue: app.queue!,
        runners: app.runners,
        concurrency,
        leaseMs: opts.leaseMs ?? cfg.leaseMs,
        retentionMs: cfg.retentionMs,
        log: app.log,
        schedules: new Schedules({ pool: app.db.pool, flows: SCHEDULABLE_FLOWS, submit: submitThrough(app.schedules), log: app.log }),
      });
      await worker.start();
      app.metrics.inFlight(() => worker.running);
      const metricsServer = opts.metricsPort === undefined ? undefined : await serveMetrics(app.metrics.registry, { port: opts.metricsPort });
      if (metricsServer) process.stderr.write(`opsgraph worker: metrics at ${metricsServer.url}\n`);
      process.stderr.write(`opsgraph worker ${worker.id}: concurrency ${concurrency}, ${tierLine(app)}; database ${app.db.where}\n`);
      const signal = await new Promise<string>((resolve) => (signalled ? resolve(signalled) : (onSignal = resolve)));
      process.stderr.write(`opsgraph worker: ${signal}: draining ${worker.running} in-flight runs\n`);
      await worker.drain();
      await metricsServer?.close();
      await app.close();
      process.stderr.write("opsgraph worker: drained, exiting\n");
    });
}
