import { CONTRACT_REVIEW_STATE_VERSION, type ContractReviewUpdate } from "./state.js";

/*
 * The versions of contract review's state, and how a checkpoint of an older one is brought
 * up to date, so that a run paused or stopped under the previous opsgraph goes on after an
 * upgrade (test/state-version.int.test.ts resumes real version-1 checkpoints).
 *
 * 1. Before the agent-step resilience (58d66f8). Each agent was one plain node that tried the
 *    model tiers in order, then `rules`. `summarizer` waited on a barrier channel joining
 *    risk_analyst and terms_analyst (`join:risk_analyst+terms_analyst:summarizer`). The
 *    ledger `attempts` held { agent, tier, attempt, outcome: ok | error | invalid, error?, ms,
 *    tokens? }, `attempt` counted across tiers. No `steps`, `produced_by` or `halted`
 *    channels. No node wrote `state_version`: its default, 1, stood for it, so a version-1
 *    checkpoint has no `state_version` at all.
 * 2. Agent steps (nodes/agent-step.ts): `steps` (each agent's cursor), `produced_by` (which
 *    tier answered each agent), `halted` (a dead letter or a rejected escalation); ledger
 *    entries may carry error_class, status and wait_ms, and an outcome `skipped`. Each
 *    analyst reaches `summarizer` (a deferred node) by its own edge, `branch:to:summarizer`.
 *    `ingest` writes `state_version`.
 */

/** The oldest state version this code can bring up to date. */
export const OLDEST_CONTRACT_REVIEW_STATE_VERSION = 1;

/** Each agent and the channel its output is kept in. */
const OUTPUTS: Record<string, string> = { clause_extractor: "clauses", risk_analyst: "risks", terms_analyst: "terms", summarizer: "summary" };

interface LedgerEntry {
  agent: string;
  tier: string;
  outcome: string;
}

/**
 * What to write to bring a state of version `fromVersion` up to the current version.
 * `values` are the checkpoint's channel values as stored.
 *
 * 1 → 2: `produced_by` from the ledger: the tier of each agent's last `ok` attempt, for the
 * agents whose output is in state (a version-1 ledger has an ok attempt only for a step that
 * returned; the last one is the tier whose answer was kept). An agent already in
 * `produced_by` keeps its entry, so the upgrade is harmless on a state that had the version-2
 * channels already (a run started by a build that had them but still called them version 1).
 * `steps: {}`: a finished step needs no cursor, an unstarted one starts on a fresh one. The
 * ledger is kept as it is: its entries are a subset of today's shape.
 */
export function upgradeState(values: Record<string, unknown>, fromVersion: number): ContractReviewUpdate {
  if (fromVersion !== 1) throw new Error(`contract-review state: no upgrade from version ${fromVersion} to ${CONTRACT_REVIEW_STATE_VERSION}`);
  const ledger = Array.isArray(values["attempts"]) ? (values["attempts"] as LedgerEntry[]) : [];
  const known = (values["produced_by"] ?? {}) as Record<string, string>;
  const produced_by: Record<string, string> = {};
  for (const a of ledger) {
    const output = OUTPUTS[a.agent];
    if (a.outcome === "ok" && output && values[output] != null && !(a.agent in known)) produced_by[a.agent] = a.tier;
  }
  return { produced_by, steps: {}, state_version: CONTRACT_REVIEW_STATE_VERSION };
}

const V1_SUMMARIZER_JOIN = "join:risk_analyst+terms_analyst:summarizer";

/**
 * The nodes a checkpoint of version `fromVersion` waits on that today's wiring would not see
 * as next. Version 1's summarizer was triggered by the join barrier, which today's graph does
 * not have: a version-1 run stopped after both analysts and before the summarizer finished
 * would look finished. The upgrade sends it to the summarizer. `pendingWrites`: writes of
 * tasks that finished in the step the run stopped in (they are applied with the upgrade).
 */
export function strandedNodes(
  checkpoint: { channel_values: Record<string, unknown> },
  pendingWrites: readonly (readonly [string, string, unknown])[],
  fromVersion: number,
): string[] {
  if (fromVersion !== 1) return [];
  const arrived = new Set<unknown>();
  const stored = checkpoint.channel_values[V1_SUMMARIZER_JOIN];
  if (Array.isArray(stored)) for (const name of stored) arrived.add(name);
  for (const [, channel, value] of pendingWrites) if (channel === V1_SUMMARIZER_JOIN) arrived.add(value);
  return arrived.has("risk_analyst") && arrived.has("terms_analyst") ? ["summarizer"] : [];
}

/** Contract review's state versions, as the runtime checks them before a run goes on. */
export const CONTRACT_REVIEW_STATE_VERSIONS = {
  current: CONTRACT_REVIEW_STATE_VERSION,
  oldest: OLDEST_CONTRACT_REVIEW_STATE_VERSION,
  upgrade: upgradeState,
  stranded: strandedNodes,
  /**
   * The node the upgrade is written as (with a `goto` to the nodes that were next). Writing as
   * a node also runs that node's edges: as `decide` it would make `report` next and skip the
   * person's review; as `summarizer` its conditional edge would route on a cursor it does not
   * have (to its dead letter). `report` leads only to END: its edges write nothing.
   */
  asNode: "report",
};
