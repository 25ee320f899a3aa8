import fs from "node:fs";
import path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The layer rules of eslint.config.js, run through ESLint itself: a real file of each layer
// with one import added, and the rule's verdict on that import.

const ROOT = path.resolve(import.meta.dirname, "..");
const eslint = new ESLint({ cwd: ROOT });

async function layerErrors(file: string, spec: string): Promise<string[]> {
  const text = `import "${spec}";\n${fs.readFileSync(path.join(ROOT, file), "utf8")}`;
  const [result] = await eslint.lintText(text, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === "import-x/no-restricted-paths").map((m) => m.message);
}

describe("lint's layer rules", () => {
  it.each([
    { from: "runtime/db/retention.ts", spec: "../../flows/sourcing/graph/events.js", says: "runtime/ knows no flow" },
    { from: "nodes/clock.ts", spec: "../runtime/config.js", says: "nodes/ is the bottom layer" },
    { from: "flows/sourcing/agents/funding.ts", spec: "../graph/state.js", says: "an agent imports only nodes/" },
    { from: "flows/contract-review/graph/state.ts", spec: "../run/runner.js", says: "a graph gets its I/O through the run context" },
    { from: "flows/sourcing/graph/state.ts", spec: "../../contract-review/graph/state.js", says: "flows/sourcing may not import another flow" },
    { from: "flows/portfolio-monitoring/run/runner.ts", spec: "../../../app/app.js", says: "not the composition root" },
    { from: "app/app.ts", spec: "../cli/format.js", says: "app/ wires the runtime and the flows" },
    { from: "cli/format.ts", spec: "../testing/until.js", says: "the CLI ships: no fakes" },
    { from: "evals/thresholds.ts", spec: "../test/support/cli.js", says: "fakes come from testing/" },
  ])("reports $from importing $spec", async ({ from, spec, says }) => {
    const errors = await layerErrors(from, spec);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(says);
  });

  it.each([
    { from: "flows/sourcing/run/ingest.ts", spec: "../../../runtime/config.js" },
    { from: "flows/sourcing/graph/state.ts", spec: "../agents/funding.js" },
    { from: "app/app.ts", spec: "../flows/sourcing/run/flow.js" },
    { from: "evals/thresholds.ts", spec: "../testing/until.js" },
  ])("allows $from importing $spec", async ({ from, spec }) => {
    expect(await layerErrors(from, spec)).toEqual([]);
  });
});
