import type { Attempt } from "./agent.js";

/** A step that every tier failed, kept so that nothing is lost and the run can be retried. */
export interface DeadLetterEntry {
  run_id: string | null;
  thread_id: string;
  flow: string;
  /** The graph node that gave up. */
  node: string;
  agent: string;
  /** Where the step's input is (a Store key), never the input itself. */
  input_ref: unknown;
  /** Every attempt of the agent in this run: the error chain. */
  errors: Attempt[];
}

/** Where dead letters go: the runtime's PostgreSQL table. Same entry twice: kept once. */
export interface DeadLetterSink {
  put(entry: DeadLetterEntry): Promise<void>;
}
