import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import pg from "pg";

/** The checkpointer every run uses: PostgresSaver on the runtime's one pool. */
export function createCheckpointer(pool: pg.Pool): PostgresSaver {
  return new PostgresSaver(pool);
}

/**
 * LangGraph's Store on the runtime's pool: large inputs (a contract's text) live here and
 * state carries only their key. PostgresStore builds a pool of its own from connection
 * options; it is given the runtime's instead, so the process keeps one pool.
 */
export function createStore(pool: pg.Pool): PostgresStore {
  const store = new PostgresStore({ connectionOptions: { max: 1 }, ensureTables: false });
  const core = (store as unknown as { core?: { pool?: unknown } }).core;
  if (!core || !(core.pool instanceof pg.Pool)) {
    throw new Error("PostgresStore's internals changed: cannot share the runtime pool (check @langchain/langgraph-checkpoint-postgres)");
  }
  const own = core.pool;
  core.pool = pool;
  void own.end(); // never connected; ending releases nothing but its bookkeeping
  return store;
}
