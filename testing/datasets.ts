import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe } from "vitest";
import { datasetsDir } from "../runtime/config.js";

const ROOT = path.resolve(import.meta.dirname, "..");

/** The checkout this one was cloned from, when it is a local folder (`git clone . /tmp/x`). */
function origin(): string | undefined {
  try {
    const url = execFileSync("git", ["config", "--get", "remote.origin.url"], { cwd: ROOT, encoding: "utf8" }).trim();
    return url && !/^[a-z+]+:\/\/|^[^/]+@/.test(url) ? path.resolve(ROOT, url) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the public evaluation data is: runtime/config.ts's lookup from the repository
 * (OPSGRAPH_DATASETS, else `../shared/datasets`, else `.opsgraph/datasets`), and for a local
 * clone (`git clone . /tmp/x`) also beside the checkout it came from, as `.ci/run` looks.
 */
export const DATASETS = locate();

function locate(): string {
  const found = datasetsDir(process.env, ROOT);
  if (process.env.OPSGRAPH_DATASETS || fs.existsSync(found)) return found;
  const from = origin();
  const besideOrigin = from && path.resolve(from, "../shared/datasets");
  return besideOrigin && fs.existsSync(besideOrigin) ? besideOrigin : found;
}

/**
 * A test suite that evaluates on the real public data (`rel` under the datasets dir): defined
 * where the data is; where it is not (a clone with no data), reported as skipped with the way
 * to get it. CI always has the data (.ci/run stops without it), so there nothing is skipped.
 */
export function describeWithData(name: string, rel: string, fetchSuite: string, fn: () => void): void {
  if (fs.existsSync(dataset(rel))) describe(name, fn);
  else describe.skip(`${name} (no data at ${dataset(rel)}: npx opsgraph data fetch ${fetchSuite})`, fn);
}

/** A file or folder of the shared data, by its path under `datasets/`. */
export const dataset = (rel: string) => path.join(DATASETS, rel);
