import type { RunnableConfig } from "@langchain/core/runnables";
import { Command } from "@langchain/langgraph";
import type { BaseCheckpointSaver, Checkpoint } from "@langchain/langgraph-checkpoint";
import { InputError } from "../errors.js";

type PendingWrite = readonly [string, string, unknown];

/** A flow's state versions: which this code reads, and how an older checkpoint is brought up to date. */
export interface FlowStateVersions {
  current: number;
  /** The oldest version `upgrade` knows. */
  oldest: number;
  /** The values to write to bring a state of version `from` (its stored channel values) to `current`. */
  upgrade(values: Record<string, unknown>, from: number): Record<string, unknown>;
  /** Nodes the old checkpoint waits on that the current wiring would not run; the upgrade sends the run there too. */
  stranded?(checkpoint: Checkpoint, pendingWrites: PendingWrite[], from: number): string[];
  /** The node the upgrade is written as: one whose edges write nothing (it leads only to END). */
  asNode: string;
}

/** What the check needs of a compiled graph with a checkpointer. */
export interface VersionedGraph {
  getState(config: RunnableConfig): Promise<{ tasks: readonly { name: string; result?: unknown }[] }>;
  updateState(config: RunnableConfig, values: unknown, asNode?: string): Promise<unknown>;
}

/** A run whose state this code cannot read: newer than it knows, or older than it can upgrade. */
export class StateVersionError extends InputError {
  override name = "StateVersionError";
}

/**
 * The version of the state a checkpoint was written under: its `state_version` channel, or 1
 * when the channel was never written (version 1 left it to the channel's default, and a
 * default is not stored). A channel without a version was never written, whatever a saver
 * returns as its value.
 */
export function checkpointStateVersion(checkpoint: Checkpoint): number | string {
  if (checkpoint.channel_versions["state_version"] === undefined) return 1;
  const v = checkpoint.channel_values["state_version"];
  return typeof v === "number" ? v : String(v);
}

export interface EnsureStateVersionOptions {
  runId: string;
  /** The run's config: its thread, and the context the graph's nodes would run with. */
  config: RunnableConfig & { configurable: { thread_id: string } };
  graph: VersionedGraph;
  checkpointer: BaseCheckpointSaver;
  versions: FlowStateVersions;
  /**
   * Holds the thread while the upgrade is written (omit when the caller holds it already), and
   * may hand the upgrade the config to write it with (the run's, carrying its fencing token).
   */
  lock?: <T>(fn: (config?: RunnableConfig & { configurable: { thread_id: string } }) => Promise<T>) => Promise<T>;
}

/**
 * Checks the state of a run's thread before the run goes on. The current version, no
 * checkpoint, or one where no node has run yet (only the input: the flow's nodes will write
 * the current version): nothing to do. An older version with an upgrade: the upgrade is
 * written as a new checkpoint, and the version it came from is returned. A version newer
 * than this code knows, or with no upgrade: StateVersionError, and nothing is written.
 *
 * Writing state as a node is a step of its own: it runs that node's edges, and clears the
 * edges that were waiting (`branch:to:<node>` lasts one step), so the paused node would no
 * longer be next. The upgrade is therefore written as `asNode`, a node whose edges write
 * nothing, with a `goto` to every node that was next and had not finished (a finished one's
 * writes are applied with the upgrade), and to the nodes `stranded` names.
 */
export async function ensureStateVersion(o: EnsureStateVersionOptions): Promise<{ from: number; to: number } | null> {
  const { current, oldest } = o.versions;
  const read = async () => {
    const tuple = await o.checkpointer.getTuple({ configurable: { thread_id: o.config.configurable.thread_id, checkpoint_ns: "" } });
    if (!tuple || Object.keys(tuple.checkpoint.versions_seen).every((node) => node === "__input__" || node === "__start__")) return null;
    const version = checkpointStateVersion(tuple.checkpoint);
    if (version === current) return null;
    if (typeof version !== "number" || !Number.isInteger(version) || version > current || version < oldest) {
      throw new StateVersionError(
        `run ${o.runId}: its state is version ${version}; this opsgraph reads versions ${oldest} to ${current} (upgrade opsgraph, or finish the run with the version that started it)`,
      );
    }
    return { tuple, version };
  };
  if (!(await read())) return null;
  const upgrade = async (config = o.config) => {
    const found = await read(); // again, holding the thread: it may have moved on
    if (!found) return null;
    const { tuple, version } = found;
    const pending = (tuple.pendingWrites ?? []) as PendingWrite[];
    const update = o.versions.upgrade(tuple.checkpoint.channel_values, version);
    const waiting = (await o.graph.getState(config)).tasks.filter((t) => t.result === undefined).map((t) => t.name);
    const goto = [...new Set([...waiting, ...(o.versions.stranded?.(tuple.checkpoint, pending, version) ?? [])])];
    await o.graph.updateState(config, goto.length ? new Command({ update, goto }) : update, o.versions.asNode);
    return { from: version, to: current };
  };
  return o.lock ? o.lock(upgrade) : upgrade();
}
