import type { RunnableConfig } from "@langchain/core/runnables";
import type { ChannelVersions, Checkpoint, CheckpointMetadata, Item, PendingWrite } from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import pg from "pg";
import { FENCE_KEY, fencedError, ownerOfThread } from "../runs/fencing.js";

// PostgresSaver's own statements, made set-based: every blob of a checkpoint and the checkpoint
// row in one statement, every write of a task in one. A statement is atomic on its own, so
// each save is one round trip and one commit instead of BEGIN, one INSERT per blob or write,
// and COMMIT: what LangGraph stores and how it reads it back are unchanged (the
// checkpoint-validation suite runs against this class).
//
// A run's execution passes its fencing token (configurable FENCE_KEY): the same statement then
// writes only while the run's fence is that token (runtime/runs/fencing.ts), and says whether it was.
/** The owner check: always true with no token, else the run row of thread $1 with the token in parameter `$n`. */
const owner = (fenced: boolean, n: number) => (fenced ? ownerOfThread(1, n) : "SELECT 1");

const putSql = (fence: number | null) => `
WITH owner AS (${owner(fence !== null, 11)}),
blobs AS (
  INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
  SELECT $1, $2, x.channel, x.version, x.type, x.blob
  FROM unnest($7::text[], $8::text[], $9::text[], $10::bytea[]) AS x(channel, version, type, blob)
  WHERE EXISTS (SELECT 1 FROM owner)
  ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
), cp AS (
  INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
  SELECT $1::text, $2::text, $3::text, $4::text, $5::jsonb, $6::jsonb WHERE EXISTS (SELECT 1 FROM owner)
  ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
)
SELECT EXISTS (SELECT 1 FROM owner) AS owned`;

const writesSql = (upsert: boolean, fence: number | null) => `
WITH owner AS (${owner(fence !== null, 9)}),
w AS (
  INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob)
  SELECT $1, $2, $3, $4, x.idx, x.channel, x.type, x.blob
  FROM unnest($5::int[], $6::text[], $7::text[], $8::bytea[]) AS x(idx, channel, type, blob)
  WHERE EXISTS (SELECT 1 FROM owner)
  ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO ${upsert ? "UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob" : "NOTHING"}
)
SELECT EXISTS (SELECT 1 FROM owner) AS owned`;

/** The fencing token a write's config carries, if any. */
const fenceOf = (config: RunnableConfig): number | null => {
  const f = (config.configurable as Record<string, unknown> | undefined)?.[FENCE_KEY];
  return typeof f === "number" ? f : null;
};

const bytes = (b: Uint8Array | undefined) => (b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : null);

type Row = unknown[];

/** PostgresSaver with one statement a save (see above). */
export class OpsgraphSaver extends PostgresSaver {
  constructor(private readonly db: pg.Pool) {
    super(db);
  }

  override async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    if (config.configurable === undefined) throw new Error(`Missing "configurable" field in "config" param`);
    const { thread_id, checkpoint_ns = "", checkpoint_id } = config.configurable as { thread_id: string; checkpoint_ns?: string; checkpoint_id?: string };
    // PostgresSaver's protected serialisers, reused so a checkpoint is written exactly as the library writes it
    const self = this as unknown as {
      _dumpCheckpoint(c: Checkpoint): unknown;
      _dumpBlobs(t: string, ns: string, values: Checkpoint["channel_values"], versions: ChannelVersions): Promise<Row[]>;
      _dumpMetadata(m: CheckpointMetadata): Promise<unknown>;
    };
    const [blobs, meta] = await Promise.all([self._dumpBlobs(thread_id, checkpoint_ns, checkpoint.channel_values, newVersions), self._dumpMetadata(metadata)]);
    const fence = fenceOf(config);
    const { rows } = await this.db.query<{ owned: boolean }>(putSql(fence), [
      thread_id,
      checkpoint_ns,
      checkpoint.id,
      checkpoint_id,
      self._dumpCheckpoint(checkpoint),
      meta,
      blobs.map((r) => r[2] as string),
      blobs.map((r) => r[3] as string),
      blobs.map((r) => r[4] as string),
      blobs.map((r) => bytes(r[5] as Uint8Array | undefined)),
      ...(fence === null ? [] : [fence]),
    ]);
    if (!rows[0]!.owned) throw await fencedError(this.db, { thread_id }, fence!);
    return { configurable: { thread_id, checkpoint_ns, checkpoint_id: checkpoint.id } };
  }

  override async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string): Promise<void> {
    if (writes.length === 0) return;
    const c = config.configurable as { thread_id?: string; checkpoint_ns?: string; checkpoint_id?: string } | undefined;
    // PostgresSaver's protected serialiser of pending writes, reused so writes are stored as the library stores them
    const self = this as unknown as { _dumpWrites(t?: string, ns?: string, id?: string, task?: string, w?: PendingWrite[]): Promise<Row[]> };
    const dumped = await self._dumpWrites(c?.thread_id, c?.checkpoint_ns, c?.checkpoint_id, taskId, writes);
    // special channels (errors, interrupts) have fixed negative indexes and are upserted, as PostgresSaver does;
    // the same index twice in one statement would be an error, so the last one wins as it did there
    const upsert = dumped.every((r) => (r[4] as number) < 0);
    const byIdx = new Map<number, Row>();
    for (const r of dumped) byIdx.set(r[4] as number, r);
    const rows = [...byIdx.values()];
    const fence = fenceOf(config);
    const { rows: result } = await this.db.query<{ owned: boolean }>(writesSql(upsert, fence), [
      c?.thread_id,
      c?.checkpoint_ns,
      c?.checkpoint_id,
      taskId,
      rows.map((r) => r[4] as number),
      rows.map((r) => r[5] as string),
      rows.map((r) => r[6] as string),
      rows.map((r) => bytes(r[7] as Uint8Array)),
      ...(fence === null ? [] : [fence]),
    ]);
    if (!result[0]!.owned) throw await fencedError(this.db, { thread_id: c?.thread_id }, fence!);
  }
}

/** The checkpointer every run uses: PostgresSaver (one statement a save) on the runtime's one pool. */
export function createCheckpointer(pool: pg.Pool): PostgresSaver {
  return new OpsgraphSaver(pool);
}

type Op = Parameters<PostgresStore["batch"]>[0][number];
const nsKey = (ns: string[], key: string) => `${ns.join("\u0000")}\u0001${key}`;
const CACHE_ENTRIES = 256;

/**
 * PostgresStore that keeps, in this process, the items of namespaces whose items never change
 * under a key (content-addressed: a document under its sha256), so a run's nodes read a
 * contract's text from memory instead of PostgreSQL each time. Oldest entries go first past 256.
 */
class CachingPostgresStore extends PostgresStore {
  private readonly cache = new Map<string, Item>();
  constructor(
    config: ConstructorParameters<typeof PostgresStore>[0],
    private readonly immutable: string[][],
  ) {
    super(config);
  }

  private cached(ns: string[]) {
    return this.immutable.some((c) => c.length === ns.length && c.every((x, i) => x === ns[i]));
  }

  private remember(k: string, item: Item) {
    this.cache.delete(k);
    this.cache.set(k, item);
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
  }

  override async put(
    namespace: string[],
    key: string,
    value: Record<string, unknown>,
    index?: false | string[],
    options?: Parameters<PostgresStore["put"]>[4],
  ): Promise<void> {
    await super.put(namespace, key, value, index, options);
    if (this.cached(namespace)) this.remember(nsKey(namespace, key), { namespace, key, value, createdAt: new Date(), updatedAt: new Date() });
  }

  override async get(namespace: string[], key: string): Promise<Item | null> {
    if (!this.cached(namespace)) return super.get(namespace, key);
    const k = nsKey(namespace, key);
    const hit = this.cache.get(k);
    if (hit) return hit;
    const item = await super.get(namespace, key);
    if (item) this.remember(k, item);
    return item;
  }

  // LangGraph's nodes reach the store through batch
  override async batch<T extends Op[]>(ops: T): Promise<never> {
    const results: unknown[] = new Array(ops.length);
    const misses: number[] = [];
    ops.forEach((op, i) => {
      const o = op as { namespace?: string[]; namespacePrefix?: string[]; key?: string; value?: unknown };
      const hit = o.namespace && o.key !== undefined && !("value" in o) && this.cached(o.namespace) ? this.cache.get(nsKey(o.namespace, o.key)) : undefined;
      if (hit) results[i] = hit;
      else misses.push(i);
    });
    if (misses.length) {
      const answered = (await super.batch(misses.map((i) => ops[i]!) as Op[])) as unknown[];
      misses.forEach((i, j) => (results[i] = answered[j]));
    }
    ops.forEach((op, i) => {
      const o = op as { namespace?: string[]; key?: string; value?: Record<string, unknown> | null };
      if (!o.namespace || o.key === undefined || !this.cached(o.namespace)) return;
      const k = nsKey(o.namespace, o.key);
      if ("value" in o) {
        if (o.value === null) this.cache.delete(k);
        else this.remember(k, { namespace: o.namespace, key: o.key, value: o.value as Record<string, unknown>, createdAt: new Date(), updatedAt: new Date() });
      } else if (results[i]) this.remember(k, results[i] as Item);
    });
    // batch() answers per operation (Item, Item[] or void): the library types the tuple by its input, which this override cannot restate
    return results as never;
  }
}

/**
 * LangGraph's Store on the runtime's pool: large inputs (a contract's text) live here and
 * state carries only their key. PostgresStore builds a pool of its own from connection
 * options; it is given the runtime's instead, so the process keeps one pool.
 */
export function createStore(pool: pg.Pool, opts: { immutable?: string[][] } = {}): PostgresStore {
  const store = new CachingPostgresStore({ connectionOptions: { max: 1 }, ensureTables: false }, opts.immutable ?? []);
  // PostgresStore keeps its pool in a private `core`: swapped for the runtime's so the process keeps one pool (checked just below)
  const core = (store as unknown as { core?: { pool?: unknown } }).core;
  if (!core || !(core.pool instanceof pg.Pool)) {
    throw new Error("PostgresStore's internals changed: cannot share the runtime pool (check @langchain/langgraph-checkpoint-postgres)");
  }
  const own = core.pool;
  core.pool = pool;
  void own.end(); // never connected; ending releases nothing but its bookkeeping
  return store;
}
