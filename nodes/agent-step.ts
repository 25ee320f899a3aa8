// Over 300 lines: addAgentStep is one state machine (attempt, retry, fallback, escalate, dead letter) whose five nodes share one cursor and one spec; the ledger it reads is attempts.ts, the graph types graph-builder.ts.
import { Annotation, END, interrupt, type LangGraphRunnableConfig } from "@langchain/langgraph";
import type { BaseStore } from "@langchain/langgraph-checkpoint";
import type { z } from "zod";
import type { Agent, Attempt, ModelTier, TokenUsage } from "./agent.js";
import { systemClock, type Clock } from "./clock.js";
import type { DeadLetterSink } from "./dead-letter.js";
import { budgetOf, type BudgetContext } from "./budget.js";
import { PartAnswers, type PartAnswer } from "./part-answers.js";
import { classifyError, DEFAULT_BACKOFF, nextDelay, type BackoffPolicy } from "./errors.js";
import type { GraphBuilder as TypedGraphBuilder } from "./graph-builder.js";
import { abandonedBy, budgetSpent, orderedTiers, PERSON_TIER, RULES_TIER, tiersOf } from "./attempts.js";

// the attempt ledger's readers, where the agent step's importers have always found them
export { abandonedBy, chainText, countModelCalls, mostTiers, PERSON_TIER, RULES_TIER, tiersOf, tiersUsed, tiersUsedByAgent } from "./attempts.js";

/** What happens when every tier of an agent failed. */
export type ExhaustedPolicy = "escalate" | "dead_letter";

/** Where an agent step stands: kept in state, so a crash or a retry resumes it exactly. */
export interface StepCursor {
  /** Index into the tiers; tiers.length is `rules`. */
  tier: number;
  /** Attempt number on the current tier, from 1. */
  attempt: number;
  /** Total waited in backoff in this step, across tiers (ms). */
  waited_ms: number;
  /** Whether the current tier had its one repair attempt. */
  repaired: boolean;
  /** What the last attempt decided. */
  route: "call" | "ok" | "retry" | "fallback" | "exhausted";
  /** The wait before the next attempt (ms), when route is retry. */
  wait_ms: number;
  /** Shown to the model on a repair attempt: what was wrong with its answer. */
  repair_note: string | null;
  /** Time lost to failed calls in this step, across tiers (ms); with waited_ms, what its time budget counts. Absent in older checkpoints. */
  failed_ms?: number;
  /**
   * The model tiers' ids in the order this step tries them (`tier` indexes it), fixed when the
   * step starts from the run's `tierOrder`. Absent: the context's `tiers` in order.
   */
  order?: string[];
}

/** Why a run stopped before its end. */
export interface Halt {
  reason: "dead_lettered" | "rejected";
  agent: string;
  note: string | null;
}

const merge = <T>() => Annotation<Record<string, T>>({ reducer: (a, b) => ({ ...a, ...b }), default: () => ({}) });

/** The channels every flow with agent steps includes in its state. */
export const AgentStepChannels = {
  /** Each agent step's cursor, by agent. */
  steps: merge<StepCursor>(),
  /** Every model, rules and person call of the run, in order: the attempt ledger. */
  attempts: Annotation<Attempt[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  /** Which tier produced each agent's output (degraded-mode honesty). */
  produced_by: merge<string>(),
  /** Set when the run stopped at a dead letter or a rejected escalation. */
  halted: Annotation<Halt | null>({ reducer: (_a, b) => b, default: () => null }),
};

export interface AgentStepState {
  steps: Record<string, StepCursor>;
  attempts: Attempt[];
  produced_by: Record<string, string>;
  halted: Halt | null;
}

/** What agent steps take from the run's context. Every field is optional: defaults are rules only, real time. */
export type AgentStepContext = BudgetContext & {
  /** Model tiers in order; rules always runs after them. */
  tiers?: ModelTier[];
  /** Agents with tier lists of their own (a strong model for one, a cheap one for another), by agent; every other agent has `tiers`. */
  agentTiers?: Record<string, ModelTier[]>;
  clock?: Clock;
  backoff?: BackoffPolicy;
  /** Per agent: what to do when every tier failed (default: the step's own policy). */
  policies?: Record<string, ExhaustedPolicy>;
  /** Where dead letters go; default: the Store, under ["opsgraph", "dead_letters"]. */
  deadLetters?: DeadLetterSink;
  /** The run these steps belong to (for dead letters). */
  runId?: string;
  flow?: string;
  /** Replaces an agent's implementation for this run, by name (a company's own rules, a test's failing one). */
  agents?: Record<string, Agent<unknown, unknown, unknown>>;
  /**
   * The Store, handed to the nodes directly (the runtime's runs). A graph compiled with a store
   * gets it wrapped in LangGraph's batcher, which answers on its next poll (a 0 ms timer, 1 ms
   * in Node) and holds every run's end until its last one. Default: the compiled-in store.
   */
  store?: BaseStore;
  /** What a model call cost in US$ (the price table), for the run's `maxCostUsd`. Default: nothing costs. */
  costOf?(attempt: Attempt): number;
  /**
   * Per agent, the ids of `tiers` in the order its step tries them (adaptive tier order, see
   * nodes/tier-order.ts); an agent not named here tries `tiers` in order. Read when a step
   * starts and kept in its cursor, so a resumed step goes on in the order it started with.
   */
  tierOrder?: Record<string, string[]>;
};

export type { NodeFn, Route, Router } from "./graph-builder.js";
/** graph-builder.ts's GraphBuilder; bare, any state and node name (for tests that build graphs from lists). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the bare form types nothing, as the untyped builder did
export type GraphBuilder<S = any, N extends string = string, W = Partial<S>> = TypedGraphBuilder<S, N, W>;

/** The nodes an agent step named Name adds: the attempt node and its resilience edges' targets. */
export type StepNodeName<Name extends string> = Name | `${Name}_retry` | `${Name}_fallback` | `${Name}_escalate` | `${Name}_dead_letter`;

/** What an agent step's own nodes return: the flow's update (its output) or the step's channels. */
export type StepUpdate<S> = Partial<S> | Partial<AgentStepState>;

export interface AgentStepSpec<S extends AgentStepState, I, M, O, Name extends string = string, Next extends string = string> {
  /** The node's name; also the agent's key in `steps`, `produced_by` and the ledger. */
  name: Name;
  agent: Agent<I, M, O>;
  /** The agent's input, from state (may read the Store through config). */
  input(state: S, config: LangGraphRunnableConfig): I | Promise<I>;
  /** Where the output goes in state. */
  output(output: O, state: S): Partial<S>;
  /**
   * The node (or nodes, run in parallel) after a successful step; or a route choosing among
   * `ends` from the state the step left.
   */
  next:
    | Next
    | typeof END
    | (Next | typeof END)[]
    | { route(state: S, config: LangGraphRunnableConfig): Next | typeof END | (Next | typeof END)[]; ends: (Next | typeof END)[] };
  /** When every tier failed. Default: dead_letter. The run's context may override it per agent. */
  policy?: ExhaustedPolicy;
  /** What the dead letter records as the input (a reference, never the content). */
  inputRef?(state: S): unknown;
  /** Run this step only when every branch that leads here has arrived (a join). */
  join?: boolean;
}

export const freshCursor = (): StepCursor => ({ tier: 0, attempt: 1, waited_ms: 0, repaired: false, route: "call", wait_ms: 0, repair_note: null });

const contextOf = (config: LangGraphRunnableConfig) => (config.context ?? {}) as AgentStepContext;

/** The Store a node reads and writes: the run's context's, else the one the graph was compiled with (Studio). */
export const storeOfRun = (config: LangGraphRunnableConfig): BaseStore | undefined => contextOf(config).store ?? config.store;

/** The node names of an agent step: the attempt node, then its resilience edges' targets. */
export const stepNodes = <Name extends string>(name: Name) => ({
  attempt: name,
  retry: `${name}_retry` as const,
  fallback: `${name}_fallback` as const,
  escalate: `${name}_escalate` as const,
  deadLetter: `${name}_dead_letter` as const,
});

/** The nodes of an agent step, to declare in `new StateGraph({ nodes })`. */
export const stepNodeNames = <Name extends string>(name: Name): StepNodeName<Name>[] => {
  const n = stepNodes(name);
  return [n.attempt, n.retry, n.fallback, n.escalate, n.deadLetter];
};

/**
 * Adds an agent step to a graph: one node that makes one attempt on the current tier, and
 * the edges of what can follow it, so the drawing shows them:
 *
 *   agent ──ok──────────▶ next
 *     ├──retry────▶ agent_retry ──▶ agent        (transient error: backoff; invalid answer: one repair)
 *     ├──fallback─▶ agent_fallback ──▶ agent     (next tier; rules is the last)
 *     ├──exhausted▶ agent_escalate ──▶ next | END (a person supplies the output or rejects)
 *     └──exhausted▶ agent_dead_letter ──▶ END    (a dead letter row; the run ends dead_lettered)
 */
export function addAgentStep<S extends AgentStepState, I, M, O, Name extends string, Next extends string = never>(
  graph: GraphBuilder<S, NoInfer<StepNodeName<Name> | Exclude<Next, typeof END>>, StepUpdate<S>>,
  spec: AgentStepSpec<S, I, M, O, Name, Next>,
): void {
  const { name } = spec;
  // Next names a node or END; for a generic Next tsc cannot see that Next ⊆ Exclude<Next, END> | END, the nodes the graph declares
  type To = Exclude<Next, typeof END> | typeof END;
  const next = spec.next as To | To[] | { route(state: S, config: LangGraphRunnableConfig): To | To[]; ends: To[] };
  const agentOf = (config: LangGraphRunnableConfig) => (contextOf(config).agents?.[name] as Agent<I, M, O> | undefined) ?? spec.agent;
  const nodes = stepNodes(name);

  async function attempt(state: S, config: LangGraphRunnableConfig): Promise<Partial<AgentStepState>> {
    if (state.halted) return {};
    const ctx = contextOf(config);
    const agent = agentOf(config);
    const clock = ctx.clock ?? systemClock;
    // the order the step started with, else the run's for this agent (a cursor reset by a new round or a dead letter's retry has none)
    const started = state.steps[name] ?? freshCursor();
    const order = started.order ?? ctx.tierOrder?.[name];
    const own = tiersOf(ctx, name);
    const tiers = order ? orderedTiers(own, order) : own;
    const budget = budgetOf(ctx);
    const cur = order && !started.order ? { ...started, order } : started;
    const input = await spec.input(state, config);
    const t0 = clock.now();
    const record = (a: Omit<Attempt, "agent" | "attempt" | "ms">): Attempt => ({ agent: name, attempt: cur.attempt, ms: clock.now() - t0, ...a });
    // the run's budget spent: the model tiers are passed over, rules answers
    const spent = cur.tier < tiers.length ? budgetSpent(state.attempts, budget, ctx.costOf) : null;

    if (cur.tier >= tiers.length || spent) {
      const passedOver = spent ? [record({ tier: tiers[cur.tier]!.id, outcome: "skipped", error_class: "budget", error: spent })] : [];
      try {
        const output = agent.rules(input);
        return {
          ...spec.output(output, state),
          steps: { [name]: { ...cur, tier: tiers.length, route: "ok" } },
          attempts: [...passedOver, record({ tier: RULES_TIER, outcome: "ok" })],
          produced_by: { [name]: RULES_TIER },
        };
      } catch (e) {
        const c = classifyError(e);
        return {
          steps: { [name]: { ...cur, tier: tiers.length, route: "exhausted" } },
          attempts: [...passedOver, record({ tier: RULES_TIER, outcome: "error", error_class: "fatal", error: c.message })],
        };
      }
    }

    const tier = tiers[cur.tier]!;
    if (cur.attempt === 1 && abandonedBy(state, name, cur.tier, tier.id) >= 2) {
      return {
        steps: { [name]: { ...cur, route: "fallback" } },
        attempts: [
          record({ tier: tier.id, outcome: "skipped", error_class: "abandoned", error: `${tier.id} failed two other agents of this run, which moved on` }),
        ],
      };
    }
    const parts = agent.split && agent.merge ? agent.split(input) : [input];
    const calls: Attempt[] = [];
    let answered: TokenUsage | undefined; // usage of a call that answered, until its answer passed its checks
    // parts answered by this same task before its worker died: asked again, they would be calls made twice
    const kept = parts.length > 1 ? PartAnswers.of(config, storeOfRun(config)) : undefined;
    const before = kept ? await kept.load(parts.length) : new Map<number, PartAnswer>();
    try {
      const outputs: O[] = [];
      for (const [i, part] of parts.entries()) {
        const { system, user } = agent.prompt(part);
        const c0 = clock.now();
        let reply = before.get(i) as { output: M; usage: TokenUsage; ms: number } | undefined;
        if (!reply) {
          const { output, usage } = await tier.invoke({
            agent: name,
            schema: agent.modelOutput as z.ZodType<M>,
            system,
            user: cur.repair_note ? `${user}\n\n${cur.repair_note}` : user,
            signal: config.signal,
          });
          reply = { output, usage, ms: clock.now() - c0 };
          await kept?.save(i, reply);
        }
        answered = reply.usage;
        outputs.push(agent.finish(reply.output, part));
        // a kept answer is in the ledger once, here: the task that asked it died before its writes were saved
        calls.push({ agent: name, tier: tier.id, attempt: cur.attempt, outcome: "ok", ms: reply.ms, tokens: reply.usage });
        answered = undefined;
      }
      const output = parts.length === 1 ? outputs[0]! : agent.merge!(outputs, input);
      return {
        ...spec.output(output, state),
        steps: { [name]: { ...cur, route: "ok", repair_note: null } },
        attempts: calls,
        produced_by: { [name]: tier.id },
      };
    } catch (e) {
      if (config.signal?.aborted) throw e;
      const c = classifyError(e, clock.now());
      // what this step has lost to failures so far, this call included: its time budget counts that, across tiers
      const failed_ms = (cur.failed_ms ?? 0) + (clock.now() - t0);
      let step: StepCursor;
      if (c.class === "invalid" && !cur.repaired) {
        step = {
          ...cur,
          route: "retry",
          wait_ms: 0,
          repaired: true,
          repair_note: `Your previous answer was rejected: ${c.message}. Answer again, quoting the text exactly.`,
        };
      } else if (c.class === "transient") {
        // another agent of this run gave up on this tier last time it tried: no backoff here, the next tier at once
        const abandoned = abandonedBy(state, name, cur.tier, tier.id) > 0;
        const wait = abandoned ? null : nextDelay(ctx.backoff ?? DEFAULT_BACKOFF, cur.attempt, cur.waited_ms, c.retryAfterMs);
        // a wait, and the call after it (taking as long as this one did: a timeout takes its whole
        // length again), that would take the step past its time budget is not waited: the next tier is tried once instead
        const fits = wait !== null && failed_ms + cur.waited_ms + wait + (clock.now() - t0) <= budget.stepBudgetMs;
        step = fits ? { ...cur, route: "retry", wait_ms: wait } : { ...cur, route: "fallback" };
      } else {
        step = { ...cur, route: "fallback" };
      }
      const failed = record({
        tier: tier.id,
        outcome: c.class === "circuit_open" ? "skipped" : c.class === "invalid" ? "invalid" : "error",
        error_class: c.class,
        error: c.message,
        wait_ms: step.route === "retry" ? step.wait_ms : 0,
        ...(c.status ? { status: c.status } : {}),
        ...(answered ? { tokens: answered } : {}),
      });
      return { steps: { [name]: { ...step, failed_ms } }, attempts: [...calls, failed] };
    }
  }

  async function retry(state: S, config: LangGraphRunnableConfig): Promise<Partial<AgentStepState>> {
    const cur = state.steps[name]!;
    if (cur.wait_ms > 0) await (contextOf(config).clock ?? systemClock).sleep(cur.wait_ms, config.signal);
    return { steps: { [name]: { ...cur, attempt: cur.attempt + 1, waited_ms: cur.waited_ms + cur.wait_ms, wait_ms: 0, route: "call" } } };
  }

  async function fallback(state: S): Promise<Partial<AgentStepState>> {
    const cur = state.steps[name]!;
    return { steps: { [name]: { ...cur, tier: cur.tier + 1, attempt: 1, repaired: false, repair_note: null, wait_ms: 0, route: "call" } } };
  }

  async function escalate(state: S, config: LangGraphRunnableConfig): Promise<Partial<AgentStepState>> {
    const errors = state.attempts.filter((a) => a.agent === name && a.outcome !== "ok").map((a) => `${a.tier}#${a.attempt}: ${a.error ?? a.outcome}`);
    const request = {
      kind: "escalation",
      agent: name,
      errors: errors.slice(-10),
      answer: '{ "output": <the agent\'s output> } or { "reject": true, "note"?: string }',
    };
    // Ask until the answer is a rejection or an output that fits the agent's schema.
    let problem: string | undefined;
    for (;;) {
      const answer = interrupt(problem ? { ...request, problem } : request) as { output?: unknown; reject?: boolean; note?: string } | undefined;
      if (!answer || answer.reject || answer.output === undefined) {
        return { halted: { reason: "rejected", agent: name, note: answer?.note ?? null } };
      }
      const parsed = agentOf(config).output.safeParse(answer.output);
      if (parsed.success) {
        return {
          ...spec.output(parsed.data, state),
          steps: { [name]: { ...state.steps[name]!, route: "ok" } },
          attempts: [{ agent: name, tier: PERSON_TIER, attempt: 1, outcome: "ok", ms: 0 }],
          produced_by: { [name]: PERSON_TIER },
        };
      }
      problem = `the output does not match ${name}'s schema: ${parsed.error.issues[0]?.path.join(".") ?? ""} ${parsed.error.issues[0]?.message ?? ""}`.trim();
    }
  }
  async function deadLetter(state: S, config: LangGraphRunnableConfig): Promise<Partial<AgentStepState>> {
    const ctx = contextOf(config);
    const entry = {
      run_id: ctx.runId ?? null,
      thread_id: String(config.configurable?.thread_id ?? ""),
      flow: ctx.flow ?? "unknown",
      node: nodes.attempt,
      agent: name,
      input_ref: spec.inputRef?.(state) ?? null,
      errors: state.attempts.filter((a) => a.agent === name),
    };
    const store = storeOfRun(config);
    if (ctx.deadLetters) await ctx.deadLetters.put(entry);
    else if (store) await store.put(["opsgraph", "dead_letters"], `${entry.thread_id}:${name}:${entry.errors.length}`, entry);
    return { halted: { reason: "dead_lettered", agent: name, note: null } };
  }

  const nexts = typeof next === "string" ? [next] : Array.isArray(next) ? next : next.ends;
  const after = (state: S, config: LangGraphRunnableConfig) => (typeof next === "string" || Array.isArray(next) ? next : next.route(state, config));
  const policyOf = (config: LangGraphRunnableConfig) => contextOf(config).policies?.[name] ?? spec.policy ?? "dead_letter";

  graph
    .addNode(nodes.attempt, attempt, spec.join ? { defer: true } : undefined)
    .addNode(nodes.retry, retry)
    .addNode(nodes.fallback, fallback)
    .addNode(nodes.escalate, escalate)
    .addNode(nodes.deadLetter, deadLetter)
    .addConditionalEdges(
      nodes.attempt,
      (state: S, config: LangGraphRunnableConfig) => {
        if (state.halted) return END;
        const route = state.steps[name]?.route;
        if (route === "ok") return after(state, config);
        if (route === "retry") return nodes.retry;
        if (route === "fallback") return nodes.fallback;
        return policyOf(config) === "escalate" ? nodes.escalate : nodes.deadLetter;
      },
      [...nexts, nodes.retry, nodes.fallback, nodes.escalate, nodes.deadLetter, END],
    )
    .addEdge(nodes.retry, nodes.attempt)
    .addEdge(nodes.fallback, nodes.attempt)
    .addConditionalEdges(nodes.escalate, (state: S, config: LangGraphRunnableConfig) => (state.halted ? END : after(state, config)), [...nexts, END])
    .addEdge(nodes.deadLetter, END);
}
