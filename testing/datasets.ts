import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

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
 * Where the shared evaluation data is: OPSGRAPH_DATASETS, else `../shared/datasets` beside the
 * repository (as CI and the developers' machines have it), else beside the checkout this clone
 * came from (the same lookup as `.ci/run`).
 */
export const DATASETS = locate();

function locate(): string {
  if (process.env.OPSGRAPH_DATASETS) return process.env.OPSGRAPH_DATASETS;
  const beside = path.resolve(ROOT, "../shared/datasets");
  if (fs.existsSync(beside)) return beside;
  const from = origin();
  const besideOrigin = from && path.resolve(from, "../shared/datasets");
  return besideOrigin && fs.existsSync(besideOrigin) ? besideOrigin : beside;
}

/** A file or folder of the shared data, by its path under `datasets/`. */
export const dataset = (rel: string) => path.join(DATASETS, rel);
