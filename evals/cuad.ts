/**
 * CUAD evaluation: load a split (e.g. ../shared/datasets/cuad/dev) and score
 * clause findings against the lawyer labels.
 *
 * Split format: `<dir>/labels.jsonl` (one JSON object per contract) and
 * `<dir>/contracts/<id>.txt`. Label offsets are Unicode code point offsets;
 * they are converted to JS string (UTF-16) indices on load so that
 * `text.slice(start, end)` works.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../runtime/errors.js";
import { CATEGORY_NAMES, CORE_CATEGORY_NAMES, isCategoryName, type CategoryName } from "../flows/contract-review/agents/categories.js";
import type { ClauseFinding } from "../flows/contract-review/agents/clause-rules.js";

export interface CuadSpan {
  start: number;
  end: number;
  text: string;
}

export interface CuadLabel {
  present: boolean;
  answer: string;
  spans: CuadSpan[];
}

export interface CuadContract {
  id: string;
  text: string;
  labels: Record<CategoryName, CuadLabel>;
}

export interface CategoryScore {
  precision: number;
  recall: number;
  f1: number;
  /** Number of contracts where the category is present in the gold labels. */
  support: number;
  tp: number;
  fp: number;
  fn: number;
  /** Among true positives, the fraction where a predicted excerpt overlaps a gold span. */
  evidence_overlap: number;
}

export interface CuadScore {
  /** Mean F1 over the core categories. */
  macro_f1: number;
  /** Mean F1 over all categories. */
  macro_f1_all: number;
  per_category: Record<CategoryName, CategoryScore>;
  contracts: number;
}

const spanSchema = z.object({
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  text: z.string().optional(),
});

const labelSchema = z.object({
  present: z.boolean().optional(),
  answer: z.string().optional(),
  spans: z.array(spanSchema).optional(),
});

const rowSchema = z.object({
  id: z.string().min(1),
  labels: z.record(z.string(), labelSchema),
});

/**
 * Map code point offsets to UTF-16 offsets for `text`. Returns an array where
 * index i (0..codePointCount) holds the UTF-16 index of code point i.
 */
export function codePointToUtf16Map(text: string): Uint32Array {
  const map: number[] = [];
  let i = 0;
  while (i < text.length) {
    map.push(i);
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      i += next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    } else {
      i += 1;
    }
  }
  map.push(text.length);
  return Uint32Array.from(map);
}

function convertOffset(map: Uint32Array, cp: number): number {
  if (cp < 0) return 0;
  const last = map[map.length - 1] ?? 0;
  if (cp >= map.length) return last;
  return map[cp] ?? last;
}

function emptyLabel(): CuadLabel {
  return { present: false, answer: "", spans: [] };
}

/** Parse one labels.jsonl text plus the contract texts into CuadContracts. */
export function parseCuadLabels(jsonl: string, readText: (id: string) => string, source = "labels.jsonl"): CuadContract[] {
  const out: CuadContract[] = [];
  const lines = jsonl.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] ?? "").trim();
    if (line === "") continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new InputError(`${source}:${n + 1}: not valid JSON`);
    }
    const parsed = rowSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "bad shape";
      throw new InputError(`${source}:${n + 1}: malformed label row (${where})`);
    }
    const row = parsed.data;
    const text = readText(row.id);
    const map = codePointToUtf16Map(text);
    const labels = {} as Record<CategoryName, CuadLabel>;
    for (const name of CATEGORY_NAMES) labels[name] = emptyLabel();
    for (const [name, lab] of Object.entries(row.labels)) {
      if (!isCategoryName(name)) continue;
      const spans: CuadSpan[] = (lab.spans ?? []).map((s) => {
        const start = convertOffset(map, s.start);
        const end = convertOffset(map, s.end);
        return { start, end, text: s.text ?? text.slice(start, end) };
      });
      labels[name] = {
        present: spans.length > 0 || (lab.present ?? false),
        answer: lab.answer ?? "",
        spans,
      };
    }
    out.push({ id: row.id, text, labels });
  }
  return out;
}

/** Load a CUAD split folder (`labels.jsonl` + `contracts/<id>.txt`). */
export async function loadCuadSplit(dir: string): Promise<CuadContract[]> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new InputError(`CUAD split ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`CUAD split folder not found: ${dir}`);
  }
  const labelsPath = join(dir, "labels.jsonl");
  let jsonl: string;
  try {
    jsonl = await readFile(labelsPath, "utf8");
  } catch {
    throw new InputError(`CUAD labels file not found: ${labelsPath}`);
  }
  // Read all contract texts first (async), then parse synchronously.
  const ids: string[] = [];
  for (const line of jsonl.split(/\r?\n/)) {
    const t = line.trim();
    if (t === "") continue;
    try {
      const v: unknown = JSON.parse(t);
      if (v && typeof v === "object" && "id" in v && typeof v.id === "string") ids.push(v.id);
    } catch {
      // reported with a line number by parseCuadLabels
    }
  }
  const texts = new Map<string, string>();
  for (const id of ids) {
    if (!/^[\w.-]+$/.test(id)) throw new InputError(`${labelsPath}: contract id ${JSON.stringify(id)} is not a safe file name`);
    const p = join(dir, "contracts", `${id}.txt`);
    try {
      texts.set(id, await readFile(p, "utf8"));
    } catch {
      throw new InputError(`CUAD contract text not found: ${p}`);
    }
  }
  const contracts = parseCuadLabels(
    jsonl,
    (id) => {
      const t = texts.get(id);
      if (t === undefined) throw new InputError(`CUAD contract text not found for ${id} in ${dir}`);
      return t;
    },
    labelsPath,
  );
  if (contracts.length === 0) throw new InputError(`CUAD labels file is empty: ${labelsPath}`);
  return contracts;
}

function safeDiv(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Score predicted findings against gold labels (detection of `present`, per category). */
export function scoreCuad(contracts: CuadContract[], predictions: Map<string, ClauseFinding[]>): CuadScore {
  const per = {} as Record<CategoryName, CategoryScore>;
  for (const name of CATEGORY_NAMES) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let support = 0;
    let evidenceHits = 0;
    for (const c of contracts) {
      const gold = c.labels[name];
      const pred = predictions.get(c.id)?.find((f) => f.name === name);
      const predicted = pred?.present ?? false;
      if (gold.present) support++;
      if (gold.present && predicted) {
        tp++;
        const hit = (pred?.excerpts ?? []).some((e) => gold.spans.some((s) => overlaps(e, s)));
        if (hit) evidenceHits++;
      } else if (predicted) fp++;
      else if (gold.present) fn++;
    }
    const precision = safeDiv(tp, tp + fp);
    const recall = safeDiv(tp, tp + fn);
    const f1 = safeDiv(2 * precision * recall, precision + recall);
    per[name] = { precision, recall, f1, support, tp, fp, fn, evidence_overlap: safeDiv(evidenceHits, tp) };
  }
  const mean = (names: readonly CategoryName[]) =>
    safeDiv(
      names.reduce((s, n) => s + per[n].f1, 0),
      names.length,
    );
  return {
    macro_f1: mean(CORE_CATEGORY_NAMES),
    macro_f1_all: mean(CATEGORY_NAMES),
    per_category: per,
    contracts: contracts.length,
  };
}

const fmt = (x: number) => x.toFixed(2);

/** A Markdown report of a CUAD score. */
export function cuadReportMarkdown(score: CuadScore, meta: { data: string; tiers: string[]; when: string }): string {
  const lines: string[] = [];
  lines.push("# CUAD clause extraction report", "");
  lines.push(`- data: \`${meta.data}\``);
  lines.push(`- contracts: ${score.contracts}`);
  lines.push(`- tiers: ${meta.tiers.join(", ")}`);
  lines.push(`- when: ${meta.when}`);
  lines.push(`- macro F1 (core): **${fmt(score.macro_f1)}**`);
  lines.push(`- macro F1 (all): ${fmt(score.macro_f1_all)}`, "");
  lines.push("| category | tier | support | tp | fp | fn | precision | recall | F1 | evidence overlap |");
  lines.push("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
  const core = new Set<string>(CORE_CATEGORY_NAMES);
  for (const name of CATEGORY_NAMES) {
    const tier = core.has(name) ? "core" : "extended";
    if (!meta.tiers.includes(tier)) continue;
    const s = score.per_category[name];
    lines.push(
      `| ${name} | ${tier} | ${s.support} | ${s.tp} | ${s.fp} | ${s.fn} | ${fmt(s.precision)} | ${fmt(s.recall)} | ${fmt(s.f1)} | ${fmt(s.evidence_overlap)} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
