import { createHash } from "node:crypto";
import path from "node:path";
import { loadConfig, type Config } from "../runtime/config.js";
import type { ContractDocument } from "../runtime/documents/documents.js";
import { CONTRACT, MODEL } from "../testing/scripted-contract.js";

/** The bench's own data dir: its embedded PostgreSQL, reports. */
export const BENCH_DATA_DIR = path.join(".opsgraph", "bench");

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Settings of every process of the bench: the bench data dir, one model tier on the scripted server. */
export function benchEnv(modelUrl: string): Record<string, string> {
  return {
    OPSGRAPH_DATA_DIR: BENCH_DATA_DIR,
    OPENAI_BASE_URL: modelUrl,
    OPENAI_API_KEY: "sk-bench",
    OPSGRAPH_MODELS: MODEL,
    LOG_LEVEL: "warn",
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  };
}

export const benchConfig = (modelUrl: string): Config => loadConfig(benchEnv(modelUrl));

let n = 0;
const tag = `${process.pid}-${Date.now().toString(36)}`;
/** The scripted contract, made distinct (so its request id, thread and document key are new). */
export function scriptedDocument(): ContractDocument {
  const text = `${CONTRACT}\n\nBench contract ${tag}-${++n}.`;
  return {
    text,
    source: `bench-${n}.txt`,
    path: "bench.txt",
    bytes: Buffer.byteLength(text),
    sha256: createHash("sha256").update(text).digest("hex"),
    format: "txt",
  };
}

/** Union of [start, end) intervals, in ms: time during which at least one was open. */
export function unionMs(intervals: [number, number][]): number {
  const xs = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let cur: [number, number] | undefined;
  for (const [s, e] of xs) {
    if (!cur || s > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [s, e];
    } else cur[1] = Math.max(cur[1], e);
  }
  if (cur) total += cur[1] - cur[0];
  return total;
}
