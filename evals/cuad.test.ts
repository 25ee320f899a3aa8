import { describe, it, expect } from "vitest";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CATEGORY_NAMES, CORE_CATEGORY_NAMES, type CategoryName } from "../flows/contract-review/agents/categories.js";
import type { ClauseFinding } from "../flows/contract-review/agents/clause-rules.js";
import { InputError } from "../runtime/errors.js";
import { codePointToUtf16Map, cuadReportMarkdown, loadCuadSplit, parseCuadLabels, scoreCuad, type CuadContract, type CuadLabel } from "./cuad.js";

function labels(present: Partial<Record<CategoryName, [number, number]>>): Record<CategoryName, CuadLabel> {
  const out = {} as Record<CategoryName, CuadLabel>;
  for (const name of CATEGORY_NAMES) {
    const span = present[name];
    out[name] = span ? { present: true, answer: "Yes", spans: [{ start: span[0], end: span[1], text: "" }] } : { present: false, answer: "", spans: [] };
  }
  return out;
}

function perfectPredictions(contracts: CuadContract[]): Map<string, ClauseFinding[]> {
  const m = new Map<string, ClauseFinding[]>();
  for (const c of contracts) {
    m.set(
      c.id,
      CATEGORY_NAMES.map((name) => {
        const gold = c.labels[name];
        const span = gold.spans[0];
        return {
          name,
          present: gold.present,
          excerpts: span ? [{ start: span.start, end: span.end, text: c.text.slice(span.start, span.end) }] : [],
          value: null,
        };
      }),
    );
  }
  return m;
}

const TEXT = "x".repeat(200);
const FIXTURE: CuadContract[] = [
  { id: "a", text: TEXT, labels: labels({ "Governing Law": [10, 20], "Anti-Assignment": [30, 60] }) },
  { id: "b", text: TEXT, labels: labels({ "Governing Law": [100, 120], "Renewal Term": [0, 5] }) },
  { id: "c", text: TEXT, labels: labels({ "Most Favored Nation": [50, 70] }) },
];

describe("scoreCuad", () => {
  it("scores perfect predictions as F1 1 on every category with support", () => {
    const s = scoreCuad(FIXTURE, perfectPredictions(FIXTURE));
    expect(s.contracts).toBe(3);
    expect(s.per_category["Governing Law"]).toMatchObject({ precision: 1, recall: 1, f1: 1, support: 2, tp: 2, fp: 0, fn: 0 });
    expect(s.per_category["Governing Law"].evidence_overlap).toBe(1);
    expect(s.per_category["Anti-Assignment"].f1).toBe(1);
    // No support and no predictions: F1 is defined as 0.
    expect(s.per_category["Audit Rights"]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 0 });
    const coreMean = CORE_CATEGORY_NAMES.reduce((acc, n) => acc + s.per_category[n].f1, 0) / CORE_CATEGORY_NAMES.length;
    expect(s.macro_f1).toBeCloseTo(coreMean, 10);
    expect(s.macro_f1).toBeCloseTo(3 / 12, 10);
    expect(s.macro_f1_all).toBeCloseTo(4 / 14, 10);
  });

  it("gives recall 0 when nothing is predicted", () => {
    const s = scoreCuad(FIXTURE, new Map());
    for (const name of CATEGORY_NAMES) {
      expect(s.per_category[name].recall).toBe(0);
      expect(s.per_category[name].f1).toBe(0);
      expect(s.per_category[name].fn).toBe(s.per_category[name].support);
    }
    expect(s.macro_f1).toBe(0);
  });

  it("counts false positives and evidence overlap", () => {
    const preds = perfectPredictions(FIXTURE);
    // contract c: predict Governing Law (false positive)
    const c = preds.get("c");
    const gl = c?.find((f) => f.name === "Governing Law");
    if (gl) {
      gl.present = true;
      gl.excerpts = [{ start: 0, end: 3, text: "xxx" }];
    }
    // contract b: right category, excerpt elsewhere
    const bgl = preds.get("b")?.find((f) => f.name === "Governing Law");
    if (bgl) bgl.excerpts = [{ start: 0, end: 100, text: TEXT.slice(0, 100) }]; // touches 100 but does not overlap
    const s = scoreCuad(FIXTURE, preds);
    const g = s.per_category["Governing Law"];
    expect(g).toMatchObject({ tp: 2, fp: 1, fn: 0, support: 2 });
    expect(g.precision).toBeCloseTo(2 / 3, 10);
    expect(g.recall).toBe(1);
    expect(g.f1).toBeCloseTo(0.8, 10);
    expect(g.evidence_overlap).toBe(0.5);
  });

  it("renders a Markdown table", () => {
    const s = scoreCuad(FIXTURE, perfectPredictions(FIXTURE));
    const md = cuadReportMarkdown(s, { data: "fixture", tiers: ["core"], when: "2024-01-01" });
    expect(md).toContain("| Governing Law | core | 2 |");
    expect(md).not.toContain("Most Favored Nation");
    expect(md).toContain("macro F1 (core): **0.25**");
  });
});

describe("labels", () => {
  it("converts code point offsets to UTF-16 indices", () => {
    const text = "😀 ab 😀😀 This Agreement is governed by Texas law.";
    const target = "This Agreement is governed by Texas law.";
    const cpStart = [...text].indexOf("T");
    const cpEnd = cpStart + [...target].length;
    const line = JSON.stringify({
      id: "x1",
      labels: { "Governing Law": { present: true, answer: "Texas", spans: [{ start: cpStart, end: cpEnd, text: target }] } },
    });
    const [c] = parseCuadLabels(line, () => text);
    const span = c?.labels["Governing Law"].spans[0];
    expect(span?.start).toBe(text.indexOf("T"));
    expect(span?.start).not.toBe(cpStart);
    expect(text.slice(span?.start, span?.end)).toBe(target);
    expect(c?.labels["Audit Rights"].present).toBe(false);
  });

  it("maps every code point, including a trailing astral character", () => {
    const map = codePointToUtf16Map("a😀b😀");
    expect(Array.from(map)).toEqual([0, 1, 3, 4, 6]);
  });

  it("rejects malformed lines with the path and line number", () => {
    expect(() => parseCuadLabels('{"id": "a", "labels": {}}\nnot json', () => "", "/data/labels.jsonl")).toThrow(/\/data\/labels\.jsonl:2: not valid JSON/);
    expect(() => parseCuadLabels('{"labels": {}}', () => "", "l.jsonl")).toThrow(InputError);
  });
});

describe("loadCuadSplit", () => {
  it("loads a split folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cuad-"));
    await mkdir(join(dir, "contracts"));
    await writeFile(join(dir, "contracts", "k-1.txt"), "😀 Neither party may assign this Agreement.");
    await writeFile(
      join(dir, "labels.jsonl"),
      `${JSON.stringify({ id: "k-1", labels: { "Anti-Assignment": { present: true, answer: "Yes", spans: [{ start: 2, end: 43, text: "" }] } } })}\n`,
    );
    const [c] = await loadCuadSplit(dir);
    expect(c?.id).toBe("k-1");
    const span = c?.labels["Anti-Assignment"].spans[0];
    expect(c?.text.slice(span?.start, span?.end)).toBe("Neither party may assign this Agreement.");
  });

  it("names the missing folder or file", async () => {
    await expect(loadCuadSplit("/nonexistent/cuad/dev")).rejects.toThrow(/\/nonexistent\/cuad\/dev/);
    const dir = await mkdtemp(join(tmpdir(), "cuad-"));
    await expect(loadCuadSplit(dir)).rejects.toThrow(InputError);
    await expect(loadCuadSplit(dir)).rejects.toThrow(/labels\.jsonl/);
    await writeFile(join(dir, "labels.jsonl"), `${JSON.stringify({ id: "missing", labels: {} })}\n`);
    await expect(loadCuadSplit(dir)).rejects.toThrow(/missing\.txt/);
  });
});
