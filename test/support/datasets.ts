import path from "node:path";

/**
 * Where the shared evaluation data is: OPSGRAPH_DATASETS (`.ci/run` sets it), else
 * `../shared/datasets` beside the repository, as CI and the developers' machines have it.
 */
export const DATASETS = process.env.OPSGRAPH_DATASETS ?? path.resolve(import.meta.dirname, "../../../shared/datasets");

/** A file or folder of the shared data, by its path under `datasets/`. */
export const dataset = (rel: string) => path.join(DATASETS, rel);
