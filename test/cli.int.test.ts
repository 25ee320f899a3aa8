// Over 300 lines: the CLI as a user runs it, by concern (bad input, contract review end to end, a dead provider, dead letters, runs of every flow), sharing its process helpers.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { riskAnalyst } from "../flows/contract-review/agents/risk-analyst.js";
import { portfolioRouter } from "../flows/portfolio-monitoring/agents/router.js";
import type { Agent } from "../nodes/agent.js";
import { createCheckpointer } from "../runtime/db/checkpointer.js";
import { portfolioInputFromFlags } from "../flows/portfolio-monitoring/run/input.js";
import { PortfolioRunner } from "../flows/portfolio-monitoring/run/runner.js";
import { openDatabase } from "../runtime/db/postgres.js";
import { checkpointStateVersion } from "../runtime/db/state-version.js";
import { readContract } from "../runtime/documents/documents.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { startScriptedOpenAI } from "../testing/scripted-openai.js";
import { ROOT, runOpsgraph, type CliResult } from "./support/cli.js";

// The CLI as a user runs it: a real process per command, the embedded PostgreSQL under a
// temp data dir, no model configured (rules tier only).

const tmpDirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

type Result = CliResult;

/** Runs `opsgraph <args>` with only the settings given (none from the caller's environment). */
const opsgraph = (args: string[], opts: { dataDir: string; env?: Record<string, string> }): Promise<Result> =>
  runOpsgraph(args, { OPSGRAPH_DATA_DIR: opts.dataDir, ...opts.env });

const show = (r: Result) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

afterAll(async () => {
  // the keeper stops postgres ~1 s after the last CLI process exits; wait for it, then make sure
  const deadline = Date.now() + 10_000;
  while (tmpDirs.some((d) => fs.existsSync(path.join(d, "pg-server.json"))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const dir of tmpDirs) {
    try {
      const { keeperPid } = JSON.parse(fs.readFileSync(path.join(dir, "pg-server.json"), "utf8")) as { keeperPid: number };
      process.kill(keeperPid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 2_000));
    } catch {
      // no server left
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe("bad input: exit 2, one line naming the problem, nothing written", () => {
  const inputs = tempDir("opsgraph-cli-inputs-");
  const rtf = path.join(inputs, "contract.rtf");
  fs.writeFileSync(rtf, "{\\rtf1\\ansi This Agreement is made between A and B.}");
  const mixed = path.join(inputs, "batch");
  fs.mkdirSync(mixed);
  fs.copyFileSync(path.join(ROOT, "samples", "contracts", "harbor-consulting-services.txt"), path.join(mixed, "good.txt"));
  fs.writeFileSync(path.join(mixed, "zz-empty.txt"), "");
  const run = ["run", "contract-review", "--input"];

  const cases: { name: string; args: string[]; env?: Record<string, string>; names: string }[] = [
    { name: "a missing file", args: [...run, "test/fixtures/no-such-contract.txt"], names: "test/fixtures/no-such-contract.txt" },
    { name: "an empty file", args: [...run, "test/fixtures/empty.txt"], names: "test/fixtures/empty.txt" },
    { name: "binary data", args: [...run, "test/fixtures/binary.txt"], names: "test/fixtures/binary.txt" },
    { name: "an unsupported type (.rtf)", args: [...run, rtf], names: `${rtf}: unsupported file type ".rtf"` },
    {
      name: "a file over OPSGRAPH_MAX_INPUT_BYTES",
      args: [...run, "samples/contracts/acme-saas-subscription.md"],
      env: { OPSGRAPH_MAX_INPUT_BYTES: "100" },
      names: "samples/contracts/acme-saas-subscription.md",
    },
    { name: "a corrupt PDF", args: [...run, "test/fixtures/corrupt.pdf"], names: "test/fixtures/corrupt.pdf" },
    { name: "a batch with one empty file (no run starts)", args: [...run, mixed], names: "zz-empty.txt" },
    {
      name: "a bad OPSGRAPH_MODEL_TIMEOUT_MS",
      args: [...run, "samples/contracts"],
      env: { OPSGRAPH_MODEL_TIMEOUT_MS: "abc" },
      names: "OPSGRAPH_MODEL_TIMEOUT_MS",
    },
    { name: "a bad OPSGRAPH_MODELS", args: [...run, "samples/contracts"], env: { OPSGRAPH_MODELS: "foo" }, names: "OPSGRAPH_MODELS" },
    {
      name: "an unreachable DATABASE_URL",
      args: [...run, "samples/contracts"],
      env: { DATABASE_URL: "postgres://u:secret@127.0.0.1:1/db" },
      names: "DATABASE_URL: cannot connect to 127.0.0.1:1",
    },
    { name: "an unknown flow", args: ["run", "no-such-flow", "--input", "samples/contracts"], names: "no-such-flow" },
    { name: "a missing --input", args: ["run", "contract-review"], names: "--input" },
  ];

  test.concurrent.for(cases)("$name", async ({ args, env, names }, { expect }) => {
    const dataDir = tempDir("opsgraph-cli-bad-");
    const r = await opsgraph(args, { dataDir, env });
    expect(r.code, show(r)).toBe(2);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    expect(lines, show(r)).toHaveLength(1);
    expect(lines[0]!.startsWith("opsgraph: "), show(r)).toBe(true);
    expect(lines[0], show(r)).toContain(names);
    expect(r.stderr).not.toContain("    at ");
    expect(r.stdout).toBe("");
    expect(r.stdout + r.stderr).not.toContain("secret");
    // nothing written: no reports, no embedded server (so no run rows), nothing at all
    expect(fs.existsSync(path.join(dataDir, "reports"))).toBe(false);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

interface RunJson {
  run_id: string;
  thread_id: string;
  request_id: string;
  flow: string;
  status: string;
  model_calls: number;
  tiers_used: string[];
  duration_ms: number;
  result?: {
    categories: unknown[];
    risks: unknown[];
    risk_score: number;
    decision: { decision: string; by: string; note?: string } | null;
    summary: string;
    report_path: string;
  };
  cached?: boolean;
}

const RUN_KEYS = ["run_id", "thread_id", "request_id", "flow", "status", "model_calls", "tiers_used", "duration_ms", "result"];
const RESULT_KEYS = ["categories", "risks", "risk_score", "decision", "summary", "report_path"];

function jsonLines(r: Result): RunJson[] {
  return r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as RunJson);
}

describe("contract review end to end (one data dir)", () => {
  const dataDir = tempDir("opsgraph-cli-happy-");
  const batch = ["run", "contract-review", "--input", "samples/contracts", "--json", "--auto-approve"];
  let first: RunJson[] = [];
  let reviewRunId = "";

  test("a batch of the 3 samples with --auto-approve: 3 JSON lines, reports written, rules tier only", async () => {
    const r = await opsgraph(batch, { dataDir });
    expect(r.code, show(r)).toBe(0);
    first = jsonLines(r);
    expect(first).toHaveLength(3);
    expect(r.stdout.split("\n").filter((l) => l !== "")).toHaveLength(3);
    for (const run of first) {
      for (const k of RUN_KEYS) expect(run, k).toHaveProperty(k);
      for (const k of RESULT_KEYS) expect(run.result, k).toHaveProperty(k);
      expect(run.flow).toBe("contract-review");
      expect(run.status).toBe("completed");
      expect(run.model_calls).toBe(0);
      expect(run.tiers_used).toEqual(["rules"]);
      expect(run.result!.decision?.decision).toBe("approved");
      expect(run.result!.categories.length).toBeGreaterThan(0);
      expect(path.dirname(run.result!.report_path)).toBe(path.join(dataDir, "reports"));
      expect(fs.existsSync(run.result!.report_path)).toBe(true);
    }
    expect(r.stderr).toContain("no model configured");
    expect(r.stderr).toContain("rules tier only");
    expect(r.stderr).not.toContain("    at ");
  });

  test("the same batch again answers from the stored runs: same run_ids, no model call", async () => {
    expect(first).toHaveLength(3);
    const r = await opsgraph(batch, { dataDir });
    expect(r.code, show(r)).toBe(0);
    const again = jsonLines(r);
    expect(again.map((x) => x.run_id).sort()).toEqual(first.map((x) => x.run_id).sort());
    for (const run of again) {
      expect(run.model_calls).toBe(0);
      expect(run.status).toBe("completed");
      expect(run.result).toBeDefined();
    }
  });

  test("a high-risk contract without --auto-approve waits for a person; resume rejects it", async () => {
    // its own request id: by default the request is the same as the auto-approved batch run
    const r = await opsgraph(
      ["run", "contract-review", "--input", "samples/contracts/northwind-supply-agreement.txt", "--json", "--request-id", "northwind-for-review"],
      { dataDir },
    );
    expect(r.code, show(r)).toBe(0);
    const [run, ...more] = jsonLines(r);
    expect(more).toEqual([]);
    expect(run!.status).toBe("awaiting_review");
    expect(run!.request_id).toBe("northwind-for-review");
    expect(run!.result!.risk_score).toBeGreaterThan(60);
    reviewRunId = run!.run_id;

    const resumed = await opsgraph(["resume", reviewRunId, "--decision", "reject", "--note", "too risky", "--json"], { dataDir });
    expect(resumed.code, show(resumed)).toBe(0);
    const [done, ...rest] = jsonLines(resumed);
    expect(rest).toEqual([]);
    expect(done!.run_id).toBe(reviewRunId);
    expect(done!.status).toBe("completed");
    expect(done!.result!.decision).toMatchObject({ decision: "rejected", by: "person", note: "too risky" });
    expect(fs.existsSync(done!.result!.report_path)).toBe(true);

    // a finished run cannot be resumed again
    const twice = await opsgraph(["resume", reviewRunId, "--decision", "approve"], { dataDir });
    expect(twice.code, show(twice)).toBe(2);
    expect(twice.stderr.trim().split("\n")).toEqual([`opsgraph: run ${reviewRunId}: is completed, not awaiting_review`]);
  });

  test("runs list --json prints one { runs } object without results; runs show includes the result", async () => {
    expect(reviewRunId).not.toBe("");
    const list = await opsgraph(["runs", "list", "--json"], { dataDir });
    expect(list.code, show(list)).toBe(0);
    const lines = list.stdout.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    const body = JSON.parse(lines[0]!) as { runs: RunJson[] };
    expect(Object.keys(body)).toEqual(["runs"]);
    expect(body.runs.map((r) => r.run_id).sort()).toEqual([...first.map((r) => r.run_id), reviewRunId].sort());
    for (const r of body.runs) expect(r).not.toHaveProperty("result");

    const shown = await opsgraph(["runs", "show", reviewRunId, "--json"], { dataDir });
    expect(shown.code, show(shown)).toBe(0);
    const run = JSON.parse(shown.stdout) as RunJson;
    expect(run.run_id).toBe(reviewRunId);
    expect(run.status).toBe("completed");
    for (const k of RESULT_KEYS) expect(run.result).toHaveProperty(k);
    expect(run.result!.decision).toMatchObject({ decision: "rejected", by: "person" });
  });

  test("run --help lists every flag and exits 0", async () => {
    const r = await opsgraph(["run", "--help"], { dataDir: tempDir("opsgraph-cli-help-") });
    expect(r.code, show(r)).toBe(0);
    for (const flag of ["--input <path>", "--request-id <id>", "--playbook <file>", "--auto-approve", "--concurrency <n>", "--json", "--help"]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stderr).toBe("");
  });
});

describe("a provider that fails everything, from the CLI", () => {
  it("finishes through the rules tier: the breaker opens after the first agent's retries and the later agents skip the model", async () => {
    const server = await startScriptedOpenAI({ defaultResponder: () => ({ fault: { kind: "status", status: 500 } }) });
    try {
      const r = await opsgraph(["run", "contract-review", "--input", "samples/contracts/harbor-consulting-services.txt", "--json"], {
        dataDir: tempDir("opsgraph-cli-500-"),
        env: { OPENAI_BASE_URL: server.url, OPSGRAPH_MODELS: "openai:gpt-4.1-mini" },
      });
      expect(r.code, show(r)).toBe(0);
      const run = JSON.parse(r.stdout) as {
        status: string;
        model_calls: number;
        tiers_used: string[];
        attempts: { agent: string; tier: string; outcome: string; wait_ms?: number }[];
        result: { produced_by: Record<string, string> };
      };
      expect(run.status).toBe("completed");
      expect(run.model_calls).toBe(5);
      expect(server.requests).toHaveLength(5);
      expect(run.tiers_used).toEqual(["rules"]);
      expect(run.attempts.filter((a) => a.outcome === "skipped").map((a) => a.agent)).toEqual(
        expect.arrayContaining(["risk_analyst", "terms_analyst", "summarizer"]),
      );
      expect(run.attempts.reduce((n, a) => n + (a.wait_ms ?? 0), 0)).toBeLessThanOrEqual(30_000);
      expect(Object.values(run.result.produced_by)).toEqual(["rules", "rules", "rules", "rules"]);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe("the dead letter queue, from the CLI", () => {
  it("lists, shows and retries a dead letter; a retried one cannot be discarded", async () => {
    const dataDir = tempDir("opsgraph-cli-dlq-");
    // dead-letter a run in this process: the risk analyst's rules crash (there is no model)
    const db = await openDatabase({ databaseUrl: undefined, dataDir });
    const broken = {
      ...riskAnalyst,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const runner = new ContractReviewRunner({
      pool: db.pool,
      tiers: [],
      reportsDir: path.join(dataDir, "reports"),
      reviewThreshold: 60,
      agents: { risk_analyst: broken },
    });
    const dead = await runner.review({ document: await readContract(path.join(ROOT, "samples/contracts/harbor-consulting-services.txt")), autoApprove: true });
    await db.close();
    expect(dead.status).toBe("dead_lettered");

    const list = await opsgraph(["dlq", "list", "--json"], { dataDir });
    expect(list.code, show(list)).toBe(0);
    const letters = (JSON.parse(list.stdout) as { dead_letters: { id: string; agent: string; run_id: string; status: string }[] }).dead_letters;
    expect(letters).toEqual([expect.objectContaining({ agent: "risk_analyst", run_id: dead.run_id, status: "waiting" })]);
    const id = letters[0]!.id;

    const shown = await opsgraph(["dlq", "show", id], { dataDir });
    expect(shown.code, show(shown)).toBe(0);
    expect(shown.stdout).toContain("rules #1 error (fatal): rules crashed");

    const retried = await opsgraph(["dlq", "retry", id, "--json"], { dataDir });
    expect(retried.code, show(retried)).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ run_id: dead.run_id, status: "completed" });

    const discard = await opsgraph(["dlq", "discard", id], { dataDir });
    expect(discard.code).toBe(2);
    expect(discard.stderr.trim()).toBe(`opsgraph: dead letter ${id}: already retried`);
    const missing = await opsgraph(["dlq", "show", "999"], { dataDir });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe("opsgraph: dead letter 999: no such dead letter");
  }, 60_000);
});

describe("runs of every flow, from the CLI: resume, runs and dlq retry --all dispatch by the run's flow", () => {
  it("resumes an escalated portfolio run on the portfolio graph (its report written, its state_version untouched); runs list --flow and show find it", async () => {
    const dataDir = tempDir("opsgraph-cli-registry-");
    // escalate the supervisor in this process: its rules crash (there is no model)
    const db = await openDatabase({ databaseUrl: undefined, dataDir });
    const broken = {
      ...portfolioRouter,
      rules: () => {
        throw new Error("router crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const runner = new PortfolioRunner({
      pool: db.pool,
      tiers: [],
      reportsDir: path.join(dataDir, "reports"),
      onExhausted: "escalate",
      agents: { supervisor: broken },
    });
    const portfolio = portfolioInputFromFlags(
      { fundamentals: path.join(ROOT, "test", "fixtures", "portfolio", "fundamentals.csv"), tickers: "FJRD,KSTR", year: 2014 },
      ROOT,
    );
    const paused = await runner.review({ portfolio, requestId: "cli-registry-portfolio" });
    expect(paused.status).toBe("awaiting_review");
    const versions = async () => {
      const v: (number | string)[] = [];
      for await (const t of createCheckpointer(db.pool).list({ configurable: { thread_id: paused.thread_id, checkpoint_ns: "" } }))
        v.push(checkpointStateVersion(t.checkpoint));
      return new Set(v);
    };
    try {
      const plan = path.join(dataDir, "plan.json");
      fs.writeFileSync(
        plan,
        JSON.stringify({
          finish: false,
          reason: "a person's plan",
          tasks: [
            { worker: "collect_metrics", payload: { ticker: "FJRD" } },
            { worker: "collect_metrics", payload: { ticker: "KSTR" } },
          ],
        }),
      );
      const resumed = await opsgraph(["resume", paused.run_id, "--output", plan, "--json"], { dataDir });
      expect(resumed.code, show(resumed)).toBe(0);
      const run = JSON.parse(resumed.stdout) as {
        flow: string;
        status: string;
        result: { companies: { ticker: string }[]; report_path: string; report_html_path: string; categories?: unknown };
      };
      expect(run).toMatchObject({ flow: "portfolio-monitoring", status: "completed" });
      expect(run.result.companies.map((c) => c.ticker).sort()).toEqual(["FJRD", "KSTR"]);
      expect(run.result.categories).toBeUndefined();
      expect(fs.existsSync(run.result.report_path)).toBe(true);
      expect(fs.existsSync(run.result.report_html_path)).toBe(true);
      expect(await versions()).toEqual(new Set([1]));

      const listed = await opsgraph(["runs", "list", "--flow", "portfolio-monitoring", "--json"], { dataDir });
      expect(listed.code, show(listed)).toBe(0);
      expect((JSON.parse(listed.stdout) as { runs: { run_id: string; flow: string; status: string }[] }).runs).toEqual([
        expect.objectContaining({ run_id: paused.run_id, flow: "portfolio-monitoring", status: "completed" }),
      ]);
      const none = await opsgraph(["runs", "list", "--flow", "contract-review", "--json"], { dataDir });
      expect(JSON.parse(none.stdout)).toEqual({ runs: [] });
      const unknown = await opsgraph(["runs", "list", "--flow", "nope"], { dataDir });
      expect(unknown.code, show(unknown)).toBe(2);
      expect(unknown.stderr.trim()).toBe(
        'opsgraph: --flow: unknown flow "nope" (known: contract-review, portfolio-monitoring, sourcing.company_profiler, sourcing.fit_analyst, sourcing.outreach_writer, sourcing)',
      );
      const shown = await opsgraph(["runs", "show", paused.run_id, "--json"], { dataDir });
      expect(shown.code, show(shown)).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({
        flow: "portfolio-monitoring",
        attempts: expect.arrayContaining([expect.objectContaining({ agent: "supervisor", tier: "person" })]),
      });
    } finally {
      await db.close();
    }
  }, 90_000);

  it("dlq retry --all: usage errors in one line, a dry run by filter, then every selected letter retried once with one summary line", async () => {
    const dataDir = tempDir("opsgraph-cli-replay-");
    const db = await openDatabase({ databaseUrl: undefined, dataDir });
    const brokenRisk = {
      ...riskAnalyst,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const runner = new ContractReviewRunner({
      pool: db.pool,
      tiers: [],
      reportsDir: path.join(dataDir, "reports"),
      reviewThreshold: 60,
      agents: { risk_analyst: brokenRisk },
    });
    const document = await readContract(path.join(ROOT, "samples/contracts/harbor-consulting-services.txt"));
    const dead: string[] = [];
    for (let i = 0; i < 3; i++) dead.push((await runner.review({ document, requestId: `cli-replay-${i}`, autoApprove: true })).run_id);
    await db.close();

    const both = await opsgraph(["dlq", "retry", "1", "--all"], { dataDir });
    expect(both.code, show(both)).toBe(2);
    expect(both.stderr).toBe("opsgraph: dlq retry: give a dead letter id or --all, not both\n");
    const badSince = await opsgraph(["dlq", "retry", "--all", "--since", "yesterday"], { dataDir });
    expect(badSince.code, show(badSince)).toBe(2);
    expect(badSince.stderr.trim()).toBe('opsgraph: --since: "yesterday" is neither an ISO time (2024-05-01T08:00:00Z) nor a duration (2h, 30m, 7d)');

    const dry = await opsgraph(["dlq", "retry", "--all", "--flow", "contract-review", "--agent", "risk_analyst", "--since", "1h", "--dry-run", "--json"], {
      dataDir,
    });
    expect(dry.code, show(dry)).toBe(0);
    const listed = JSON.parse(dry.stdout) as { dry_run: boolean; count: number; dead_letters: { run_id: string; status: string }[] };
    expect(listed).toMatchObject({ dry_run: true, count: 3 });
    expect(listed.dead_letters.map((d) => d.run_id).sort()).toEqual([...dead].sort());
    const dryOther = await opsgraph(["dlq", "retry", "--all", "--flow", "portfolio-monitoring", "--dry-run"], { dataDir });
    expect(dryOther.stdout).toBe("would retry 0 dead letters (dry run: none retried)\n");

    const all = await opsgraph(["dlq", "retry", "--all", "--flow", "contract-review", "--concurrency", "2"], { dataDir });
    expect(all.code, show(all)).toBe(0);
    expect(all.stdout).toBe(
      "retried 3: 3 completed, 0 dead_lettered again, 0 failed, 0 errors (worker-task and refused-event letters cannot be retried in place: 0)\n",
    );
    // not a terminal: one line per letter on stderr
    expect(all.stderr.split("\n").filter((l) => /^dead letter \d+ \(contract-review \/ risk_analyst, run [0-9a-f-]+\): completed$/.test(l))).toHaveLength(3);
    const after = await opsgraph(["dlq", "list", "--status", "retried", "--json"], { dataDir });
    expect((JSON.parse(after.stdout) as { dead_letters: unknown[] }).dead_letters).toHaveLength(3);
    for (const id of dead) expect(JSON.parse((await opsgraph(["runs", "show", id, "--json"], { dataDir })).stdout)).toMatchObject({ status: "completed" });
    const again = await opsgraph(["dlq", "retry", "--all", "--json"], { dataDir });
    expect(JSON.parse(again.stdout)).toMatchObject({ selected: 0, retried: 0, errors: 0 });
  }, 120_000);
});
