import { randomUUID } from "node:crypto";
import { evaluate } from "langsmith/evaluation";

/** One example of a suite: its inputs and the reference the evaluators compare with. */
export interface SuiteExample<I, R> {
  inputs: I;
  reference: R;
}

/** What an experiment measured: its summary metrics, and how long it took. */
export interface ExperimentResult {
  metrics: Record<string, number>;
  examples: number;
  duration_ms: number;
}

// langsmith's traceable warns once per example when tracing is off; the warning says nothing here
const QUIET = "Can not call 'on_end' if currentRunTree is undefined";

/**
 * Runs `target` over the examples with langsmith's `evaluate()`, offline (`uploadRuns: false`)
 * unless LANGSMITH_API_KEY is given (then the experiment is uploaded under `name`), and
 * returns the summary evaluator's metrics.
 */
export async function runExperiment<I extends Record<string, unknown>, O extends Record<string, unknown>, R extends Record<string, unknown>>(opts: {
  name: string;
  examples: SuiteExample<I, R>[];
  target: (inputs: I) => Promise<O>;
  /** All outputs and references at once, in example order: the suite's metrics. */
  summary: (outputs: O[], references: R[]) => Record<string, number>;
  upload: boolean;
  concurrency?: number;
}): Promise<ExperimentResult> {
  const t0 = Date.now();
  const dataset_id = randomUUID();
  const data = opts.examples.map((e) => ({ id: randomUUID(), dataset_id, created_at: new Date().toISOString(), inputs: e.inputs, outputs: e.reference }));
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void (args[0] === QUIET || warn(...args));
  try {
    const results = await evaluate((inputs: I) => opts.target(inputs), {
      data: data as never,
      summaryEvaluators: [
        ({ outputs, referenceOutputs }: { outputs: O[]; referenceOutputs?: R[] }) =>
          ({ results: Object.entries(opts.summary(outputs, referenceOutputs ?? [])).map(([key, score]) => ({ key, score })) }) as never,
      ],
      experimentPrefix: opts.name,
      maxConcurrency: opts.concurrency ?? 4,
      uploadRuns: opts.upload,
    } as never);
    const summary = (results as unknown as { summaryResults?: { results?: { key: string; score?: number }[] } }).summaryResults?.results ?? [];
    const metrics = Object.fromEntries(summary.map((r) => [r.key, Number(r.score)]));
    return { metrics, examples: data.length, duration_ms: Date.now() - t0 };
  } finally {
    console.warn = warn;
  }
}
