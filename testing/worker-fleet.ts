import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type pg from "pg";
import type { App } from "../app/app.js";
import { CONTRACT } from "./scripted-contract.js";
const ROOT = path.resolve(import.meta.dirname, "..");
import { documentOf } from "./documents.js";
import { until } from "./until.js";

// Real `opsgraph worker` processes on one database, for the breaker fleet test and
// scripts/breaker-fleet.ts: the same workload, counted the same way.

export interface WorkerFleet {
  workers: (ChildProcess & { output: () => string })[];
  /** SIGTERM (drain) every worker, and wait for them to exit. */
  stop(): Promise<void>;
}

/** This process's environment without opsgraph's, OpenAI's or LangSmith's settings, and `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(OPSGRAPH_|OPENAI_|LANGSMITH_|LANGCHAIN_)/.test(k) && k !== "DATABASE_URL" && k !== "LOG_LEVEL") e[k] = v;
  return Object.assign(e, { LOG_LEVEL: "warn", ...env });
}

/** Runs testing/breaker-caller.ts in a process of its own: what its calls did. */
export function runCaller(env: Record<string, string>): Promise<{ ok: number; error: number; skipped: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "testing", "breaker-caller.ts")], {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split("\n").at(-1)!) as { ok: number; error: number; skipped: number })
        : reject(new Error(`breaker-caller exited ${code}: ${err.slice(-500)}`)),
    );
  });
}

/** Starts `n` workers with only the settings in `env` (none of the caller's opsgraph or OpenAI ones). */
export function startWorkers(n: number, env: Record<string, string>, { concurrency = 1, leaseMs = 5_000 } = {}): WorkerFleet {
  const workers = Array.from({ length: n }, () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", String(concurrency), "--lease-ms", String(leaseMs)],
      { cwd: ROOT, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    return Object.assign(child, { output: () => out });
  });
  return {
    workers,
    async stop() {
      await Promise.all(
        workers.map((w) => {
          if (w.exitCode !== null || w.signalCode !== null) return undefined;
          const exited = new Promise((r) => w.once("exit", r));
          w.kill("SIGTERM");
          return exited;
        }),
      );
    },
  };
}

/** Submits `n` distinct contract reviews (auto-approved); returns their run ids. */
export async function submitContracts(app: App, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push(
      (
        await app.contractReview.submit({
          document: documentOf(`${CONTRACT}\n\nSchedule ${tag}-${i + 1}: deliveries to site ${i + 1}.`, `${tag}-${i + 1}.txt`),
          autoApprove: true,
        })
      ).run_id,
    );
  return ids;
}

/** Waits until every run has left queued and running. */
export async function waitFinished(pool: pg.Pool, runIds: string[], timeoutMs = 120_000): Promise<void> {
  await until(
    `${runIds.length} runs to finish`,
    async () =>
      (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_runs WHERE run_id = ANY($1) AND status NOT IN ('queued', 'running')", [runIds]))
        .rows[0]!.n === runIds.length,
    timeoutMs,
    250,
  );
}
