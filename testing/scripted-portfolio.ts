import { RULES_TIER } from "../nodes/agent-step.js";
import type { Attempt } from "../nodes/agent.js";
import type { IssueFlaggerAnswer } from "../flows/portfolio-monitoring/agents/issue-flagger.js";
import type { KpiAnalystAnswer } from "../flows/portfolio-monitoring/agents/kpi-analyst.js";
import { ANALYSE, COLLECT, type PortfolioRouterAnswer } from "../flows/portfolio-monitoring/agents/router.js";
import type { RecordedRequest, Reply, Responder, ScriptedServer } from "./scripted-openai.js";

// A careful model for the portfolio-monitoring flow, answering each agent from its prompt
// alone (as a real model must), and a fault injector that makes it slow and unreliable.
// The agent names are the agent steps' names: the structured-output schema name the server sees.

export const MODEL = "openai:gpt-4.1-mini";
export const ROUTER = "supervisor";
export const ANALYST = ANALYSE;
export const FLAGGER = "issue_flagger";

/** The user message of a chat request: the prompt the agent built. */
function userPrompt(req: RecordedRequest): string {
  const messages = (req.body as { messages?: { role: string; content: unknown }[] }).messages ?? [];
  const content = messages.find((m) => m.role === "user")?.content;
  return typeof content === "string" ? content : JSON.stringify(content ?? "");
}

const num = (s: string) => (s === "null" ? null : Number(s));

// ---- the router: follows the plan its prompt states ---------------------------------------

interface TaskLine {
  worker: string;
  ticker: string;
  outcome: "done" | "no data" | "failed";
  dispatches: number;
}

const TASK_LINE = /^- (\S+) (\S+): (done, no data|done|failed \(.*\)), dispatched (\d+) time\(s\)/;

/** Collect what has no collect task, analyse what was collected with data, re-run a failure once, finish. */
export function routerAnswer(prompt: string): PortfolioRouterAnswer {
  const tickers = (/^Portfolio tickers: (.*)$/m.exec(prompt)?.[1] ?? "").split(", ").filter(Boolean);
  const lines: TaskLine[] = prompt.split("\n").flatMap((l) => {
    const m = TASK_LINE.exec(l);
    if (!m) return [];
    const outcome = m[3] === "done" ? "done" : m[3] === "done, no data" ? "no data" : "failed";
    return [{ worker: m[1]!, ticker: m[2]!, outcome, dispatches: Number(m[4]) }];
  });
  const task = (worker: string, ticker: string) => lines.find((t) => t.worker === worker && t.ticker === ticker);
  const due = (t: TaskLine | undefined) => !t || (t.outcome === "failed" && t.dispatches < 2);
  const tasks: PortfolioRouterAnswer["tasks"] = [];
  for (const ticker of tickers) {
    const collect = task(COLLECT, ticker);
    if (due(collect)) tasks.push({ worker: COLLECT, ticker });
    else if (collect!.outcome === "done" && due(task(ANALYSE, ticker))) tasks.push({ worker: ANALYSE, ticker });
  }
  return tasks.length
    ? { finish: false, reason: `${tasks.length} task(s) left: collect the missing, analyse the collected, re-run failures once`, tasks }
    : { finish: true, reason: "every company is analysed, has no data, or failed twice", tasks: [] };
}

// ---- the KPI analyst: keeps the figures that moved ------------------------------------------

const FIGURE_LINE = /^- kind=(\S+) metric=(\S+) period=(\S+) value=(\S+) reference=\S+(?: \([^)]*\))? change_pct=(\S+)/;

/** The figures that matter: a change of 20% or more (peer gaps aside), and every KPI anomaly; values copied as printed. */
export function analystAnswer(prompt: string): KpiAnalystAnswer {
  const findings: KpiAnalystAnswer["findings"] = [];
  for (const line of prompt.split("\n")) {
    const m = FIGURE_LINE.exec(line);
    if (!m) continue;
    const [, kind, metric, period, value, change] = m as unknown as [string, KpiAnalystAnswer["findings"][number]["kind"], string, string, string, string];
    const changePct = num(change);
    const moved = kind !== "peer" && changePct !== null && Math.abs(changePct) >= 20;
    if (!moved && kind !== "anomaly") continue;
    findings.push({ kind, metric, period, value: num(value)!, change_pct: changePct, note: `${metric} moved ${change}% in ${period}.` });
  }
  return { findings };
}

// ---- the issue flagger: one flag per finding, severity by size --------------------------------

const FINDING_LINE = /^- kind=(\S+) metric=(\S+) period=(\S+): (.*)$/;

/** The change a finding's evidence states: `+59.5%` or `+5 pts`. */
function changeOf(evidence: string): { size: number; unit: "%" | "pts" } | null {
  const all = [...evidence.matchAll(/([+-][\d,]+(?:\.\d+)?)(%| pts)/g)];
  const last = all.at(-1);
  return last ? { size: Math.abs(Number(last[1]!.replace(/,/g, ""))), unit: last[2] === "%" ? "%" : "pts" } : null;
}

/** Flags every finding with a change except peer gaps: high from 100% (10 pts), medium from 50% (5 pts), else low. */
export function flaggerAnswer(prompt: string): IssueFlaggerAnswer {
  const flags: IssueFlaggerAnswer["flags"] = [];
  for (const line of prompt.split("\n")) {
    const m = FINDING_LINE.exec(line);
    if (!m || m[1] === "peer") continue;
    const change = changeOf(m[4]!);
    if (!change) continue;
    const [high, medium] = change.unit === "%" ? [100, 50] : [10, 5];
    const severity = change.size >= high ? "high" : change.size >= medium ? "medium" : "low";
    flags.push({
      kind: m[1] as IssueFlaggerAnswer["flags"][number]["kind"],
      metric: m[2]!,
      period: m[3]!,
      severity,
      explanation: `${m[2]} moved ${change.size}${change.unit === "%" ? "%" : " points"} in ${m[3]}.`,
      action: severity === "high" ? "Ask management for the cause this week." : "Discuss at the next review.",
    });
  }
  return { flags };
}

/** Each portfolio agent's responder, by the name the server sees. */
export const portfolioResponders: Record<string, Responder> = {
  [ROUTER]: (req) => ({ json: routerAnswer(userPrompt(req)) }),
  [ANALYST]: (req) => ({ json: analystAnswer(userPrompt(req)) }),
  [FLAGGER]: (req) => ({ json: flaggerAnswer(userPrompt(req)) }),
};

/** Answers every portfolio agent on the server, each responder passed through `wrap` (e.g. a fault injector's). */
export function scriptPortfolioModel(server: ScriptedServer, wrap: (r: Responder) => Responder = (r) => r): void {
  for (const [agent, responder] of Object.entries(portfolioResponders)) server.setResponder(agent, wrap(responder));
}

// ---- fault injection ----------------------------------------------------------------------------

export const FAULT_KINDS = ["status_500", "status_429", "hang", "reset", "schema_invalid"] as const;
export type InjectedFault = (typeof FAULT_KINDS)[number];

const FAULT_REPLIES: Record<InjectedFault, Reply> = {
  status_500: { fault: { kind: "status", status: 500 } },
  status_429: { fault: { kind: "status", status: 429, retryAfterSeconds: 0 } },
  hang: { fault: { kind: "hang" } }, // ends when the client's model-call timeout aborts it
  reset: { fault: { kind: "reset" } },
  schema_invalid: { fault: { kind: "schema_invalid" } },
};

export interface FaultOptions {
  /** Share of requests answered with a fault, 0 to 1. */
  rate: number;
  /** Seed of the PRNG: the same seed faults the same request numbers with the same kinds. */
  seed: number;
  /** Every request, faulted or not, is answered after this long. */
  latencyMs: number;
  /** The faults to draw from, evenly. Default: all of FAULT_KINDS. */
  kinds?: readonly InjectedFault[];
}

export interface FaultStats {
  requests: number;
  faults: Record<InjectedFault, number>;
  /** Requests being answered now, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
}

/** mulberry32: a small seeded PRNG, so a fault pattern is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Makes responders slow and unreliable: every request waits `latencyMs`, then a seeded share
 * `rate` of them (one PRNG over all agents, in arrival order) gets a fault instead of its answer.
 * `stats` counts the faults and the requests in flight at once.
 */
export function faulty({ rate, seed, latencyMs, kinds = FAULT_KINDS }: FaultOptions): { wrap(responder: Responder): Responder; stats: FaultStats } {
  const random = prng(seed);
  const stats: FaultStats = {
    requests: 0,
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<InjectedFault, number>,
    inFlight: 0,
    maxInFlight: 0,
  };
  const wrap =
    (responder: Responder): Responder =>
    async (req) => {
      stats.requests++;
      // drawn at arrival, so the pattern follows the request order alone
      const fault = random() < rate ? kinds[Math.floor(random() * kinds.length)]! : null;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, latencyMs));
      } finally {
        stats.inFlight--;
      }
      if (fault) {
        stats.faults[fault]++;
        return FAULT_REPLIES[fault];
      }
      return responder(req);
    };
  return { wrap, stats };
}

/**
 * The critical path of a run's model latencies, from its attempt ledger. The flow's stages run
 * one after another and the tasks of a stage in parallel:
 *   - each router round: the supervisor's attempts up to its answer (one task);
 *   - the analyse stage a round dispatched: one analyse_kpis task per company;
 *   - the flag stage: one issue_flagger task per company.
 * (collect_metrics calls no model: it adds nothing.) A task's time is the sum over its attempts
 * of `ms` (the call) plus `wait_ms` (the backoff slept after it); a stage's time is its slowest
 * task's; the critical path is the sum of the stages' times. The ledger keeps each parallel
 * task's attempts together, and a task ends with its answer (an ok attempt) or its rules tier:
 * that is how tasks are told apart.
 */
export function criticalPath(ledger: readonly Attempt[]): { ms: number; stages: { agent: string; tasks: number; ms: number }[] } {
  const stages: { agent: string; tasks: number[]; taskDone: boolean }[] = [];
  for (const a of ledger) {
    let stage = stages.at(-1);
    if (!stage || stage.agent !== a.agent || (stage.taskDone && a.agent === ROUTER)) {
      stage = { agent: a.agent, tasks: [], taskDone: true };
      stages.push(stage);
    }
    if (stage.taskDone) stage.tasks.push(0);
    stage.tasks[stage.tasks.length - 1]! += a.ms + (a.wait_ms ?? 0);
    stage.taskDone = a.outcome === "ok" || a.tier === RULES_TIER;
  }
  const summary = stages.map((s) => ({ agent: s.agent, tasks: s.tasks.length, ms: Math.max(...s.tasks) }));
  return { ms: summary.reduce((n, s) => n + s.ms, 0), stages: summary };
}
