import { describe, expect, it } from "vitest";
import { compareWithThresholds, summaryMarkdown, type SuiteRun } from "./thresholds.js";

const run = (metrics: Record<string, number>): SuiteRun[] => [{ name: "s", result: { metrics, examples: 3, duration_ms: 10 } }];
const rules = { s: { f1: { min: 0.9, tolerance: 0.01 }, errors: { max: 0 } } };

describe("compareWithThresholds", () => {
  it("passes within tolerance and fails beyond it", () => {
    expect(compareWithThresholds(run({ f1: 0.895, errors: 0 }), rules).every((v) => v.ok)).toBe(true);
    const v = compareWithThresholds(run({ f1: 0.88, errors: 0 }), rules);
    expect(v.filter((x) => !x.ok).map((x) => x.metric)).toEqual(["f1"]);
  });

  it("a maximum exceeded is a regression", () => {
    expect(
      compareWithThresholds(run({ f1: 0.95, errors: 2 }), rules)
        .filter((x) => !x.ok)
        .map((x) => x.metric),
    ).toEqual(["errors"]);
  });

  it("a metric the rules name but the suite did not measure is a regression, shown in the summary", () => {
    const v = compareWithThresholds(run({ errors: 0 }), rules);
    expect(v.find((x) => x.metric === "f1")).toMatchObject({ ok: false, rule: "not measured" });
    expect(summaryMarkdown(run({ errors: 0 }), v)).toContain("| s | f1 | — | not measured | **regression** |");
  });
});
