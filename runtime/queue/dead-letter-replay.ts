import pLimit from "p-limit";
import type { DeadLetter } from "./dead-letters.js";
import { InputError } from "../errors.js";
import type { FlowRegistry } from "../runs/flow-registry.js";
import { NotRetryableError, type RunStatus } from "../runs/flow-runner.js";
import { parseDuration } from "../db/retention.js";

/** Which waiting dead letters a replay takes. */
export interface ReplayFilter {
  /** A flow, or a family of them (`sourcing`: every stage). */
  flow?: string;
  agent?: string;
  /** Created at or after. */
  since?: Date;
}

/** What became of one letter: its run's status after the retry, or why it was not retried. */
export type ReplayOutcome = RunStatus | "not_retryable" | "error";

export interface ReplayedLetter {
  id: string;
  flow: string;
  agent: string;
  run_id: string | null;
  outcome: ReplayOutcome;
  error?: string;
}

export interface ReplaySummary {
  /** Waiting letters the filter selected. */
  selected: number;
  /** Letters retried (settled `retried`) or whose retry raised an error: all but the not-retryable. */
  retried: number;
  completed: number;
  dead_lettered: number;
  failed: number;
  awaiting_review: number;
  /** Retries that raised an error (the run busy elsewhere, the database lost, ...). */
  errors: number;
  /** Letters that cannot be retried in place (a worker task's, a refused event's): counted, left waiting. */
  not_retryable: number;
  letters: ReplayedLetter[];
}

/** `--since`: an ISO time, or a duration back from `now` (2h, 30m, 7d). */
export function parseSince(value: string, now = new Date()): Date {
  if (/^\d+[dhms]$/.test(value.trim())) return new Date(now.getTime() - parseDuration(value, "--since"));
  const t = /^\d{4}-\d{2}-\d{2}/.test(value.trim()) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new InputError(`--since: "${value}" is neither an ISO time (2024-05-01T08:00:00Z) nor a duration (2h, 30m, 7d)`);
  return new Date(t);
}

/** The waiting dead letters a replay would retry (a `--flow` filter checked against the known flows). */
export async function selectDeadLetters(registry: FlowRegistry, filter: ReplayFilter): Promise<DeadLetter[]> {
  return registry.deadLetters.waiting({ ...filter, ...(filter.flow !== undefined ? { flow: registry.checkFlowFilter(filter.flow) } : {}) });
}

/**
 * Retries every selected dead letter once, each on its run's own flow, `concurrency` runs at
 * once. The letters of one run are retried one after the other (one run at a time per thread).
 * A letter that cannot be retried in place, or whose retry fails, is counted and the batch goes on.
 */
export async function replayDeadLetters(
  registry: FlowRegistry,
  opts: { filter?: ReplayFilter; concurrency?: number; onLetter?: (letter: ReplayedLetter, done: number, total: number) => void } = {},
): Promise<ReplaySummary> {
  const { filter = {}, concurrency = 4, onLetter } = opts;
  const letters = await selectDeadLetters(registry, filter);
  const byRun = new Map<string, DeadLetter[]>();
  for (const l of letters) {
    const key = l.run_id ?? `letter:${l.id}`;
    byRun.set(key, [...(byRun.get(key) ?? []), l]);
  }
  const limit = pLimit(concurrency);
  const done: ReplayedLetter[] = [];
  const retryOne = async (l: DeadLetter): Promise<ReplayedLetter> => {
    const base = { id: l.id, flow: l.flow, agent: l.agent, run_id: l.run_id };
    try {
      const { run } = await registry.retryDeadLetter(l.id);
      return { ...base, outcome: run.status, ...(run.error ? { error: run.error } : {}) };
    } catch (e) {
      const error = String((e as Error).message ?? e).split("\n")[0]!;
      return { ...base, outcome: e instanceof NotRetryableError ? "not_retryable" : "error", error };
    }
  };
  await Promise.all(
    [...byRun.values()].map((group) =>
      limit(async () => {
        for (const l of group) {
          const r = await retryOne(l);
          done.push(r);
          onLetter?.(r, done.length, letters.length);
        }
      }),
    ),
  );
  const count = (o: ReplayOutcome) => done.filter((r) => r.outcome === o).length;
  const not_retryable = count("not_retryable");
  return {
    selected: letters.length,
    retried: done.length - not_retryable,
    completed: count("completed"),
    dead_lettered: count("dead_lettered"),
    failed: count("failed"),
    awaiting_review: count("awaiting_review"),
    errors: count("error"),
    not_retryable,
    letters: done.sort((a, b) => Number(a.id) - Number(b.id)),
  };
}
