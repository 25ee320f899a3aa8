import type pg from "pg";
import type { DeadLetterEntry, DeadLetterSink } from "../../nodes/dead-letter.js";
import { InputError } from "../errors.js";
import { fencedError, ownerOfThread } from "../runs/fencing.js";

export type DeadLetterStatus = "waiting" | "retried" | "discarded";

export interface DeadLetter extends DeadLetterEntry {
  id: string;
  status: DeadLetterStatus;
  attempts: number;
  created_at: string;
  updated_at: string;
}

/** The dead letter queue: a PostgreSQL table; the same entry written twice (a step re-run) is kept once. */
export class DeadLetterQueue implements DeadLetterSink {
  constructor(private readonly pool: pg.Pool) {}

  async put(entry: DeadLetterEntry, fence?: number): Promise<void> {
    const fenced = fence !== undefined;
    const { rows } = await this.pool.query<{ owned: boolean }>(
      `WITH owner AS (${fenced ? ownerOfThread(2, 9) : "SELECT 1"}),
       d AS (INSERT INTO opsgraph_dead_letters (run_id, thread_id, flow, node, agent, input_ref, errors, attempts)
             SELECT $1::uuid, $2::text, $3, $4, $5, $6::jsonb, $7::jsonb, $8 WHERE EXISTS (SELECT 1 FROM owner) ON CONFLICT (thread_id, agent, attempts) DO NOTHING)
       SELECT EXISTS (SELECT 1 FROM owner) AS owned`,
      [
        entry.run_id,
        entry.thread_id,
        entry.flow,
        entry.node,
        entry.agent,
        JSON.stringify(entry.input_ref),
        JSON.stringify(entry.errors),
        entry.errors.length,
        ...(fenced ? [fence] : []),
      ],
    );
    if (!rows[0]!.owned) throw await fencedError(this.pool, entry, fence!);
  }

  /** The sink of one execution: its letters are written only while it holds its run (`fence`). */
  fenced(fence: number): DeadLetterSink {
    return { put: (entry) => this.put(entry, fence) };
  }

  async list(status: DeadLetterStatus | "all" = "waiting", limit = 100): Promise<DeadLetter[]> {
    const { rows } = await this.pool.query<DeadLetter>(
      `SELECT id::text, run_id, thread_id, flow, node, agent, input_ref, errors, attempts, status, created_at, updated_at
       FROM opsgraph_dead_letters WHERE $1 = 'all' OR status = $1 ORDER BY id DESC LIMIT $2`,
      [status, limit],
    );
    return rows;
  }

  /**
   * Waiting dead letters, oldest first: of `flow` (or of its stages, `flow.*`), of `agent`,
   * created at or after `since`.
   */
  async waiting(filter: { flow?: string; agent?: string; since?: Date } = {}): Promise<DeadLetter[]> {
    const { rows } = await this.pool.query<DeadLetter>(
      `SELECT id::text, run_id, thread_id, flow, node, agent, input_ref, errors, attempts, status, created_at, updated_at FROM opsgraph_dead_letters
       WHERE status = 'waiting' AND ($1::text IS NULL OR flow = $1 OR flow LIKE $1 || '.%') AND ($2::text IS NULL OR agent = $2) AND ($3::timestamptz IS NULL OR created_at >= $3)
       ORDER BY id`,
      [filter.flow ?? null, filter.agent ?? null, filter.since ?? null],
    );
    return rows;
  }

  async get(id: string): Promise<DeadLetter> {
    if (!/^\d+$/.test(id)) throw new InputError(`dead letter ${id}: not a dead letter id (a number, see opsgraph dlq list)`);
    const { rows } = await this.pool.query<DeadLetter>(
      `SELECT id::text, run_id, thread_id, flow, node, agent, input_ref, errors, attempts, status, created_at, updated_at FROM opsgraph_dead_letters WHERE id = $1`,
      [id],
    );
    if (!rows[0]) throw new InputError(`dead letter ${id}: no such dead letter`);
    return rows[0];
  }

  /** Moves a waiting dead letter to `status`; refuses one already handled. */
  async settle(id: string, status: "retried" | "discarded"): Promise<DeadLetter> {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE opsgraph_dead_letters SET status = $2, updated_at = now() WHERE id = $1 AND status = 'waiting' RETURNING id::text`,
      [id, status],
    );
    if (!rows[0]) {
      const current = await this.get(id);
      throw new InputError(`dead letter ${id}: already ${current.status}`);
    }
    return this.get(id);
  }
}
