/**
 * Normalization and sentence segmentation of contract text (often converted
 * from PDF), keeping a map from normalized offsets back to the source.
 */
const MAX_SEGMENT_CHARS = 2000;

/** Lower-case and unify quotes, dashes and spaces without changing the length. */
export function normalizeForMatching(text: string): string {
  let lower = text.toLowerCase();
  if (lower.length !== text.length) {
    // A few characters change length when lower-cased (e.g. "\u0130"); keep those as they are.
    lower = text.replace(/[^\0-\x7f]/g, (c) => (c.toLowerCase().length === c.length ? c.toLowerCase() : c)).replace(/[A-Z]+/g, (c) => c.toLowerCase());
  }
  return lower
    .replace(/[\u2018\u2019\u201a\u201b\u2032\u00b4`]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f\u2033]/g, '"')
    .replace(/[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]/g, "-")
    .replace(/[\s\u00a0\u2000-\u200b\u2028\u2029\u3000\ufeff]/g, " ");
}

export interface Segment {
  start: number;
  end: number;
  /** normalized text of source.slice(start, end), whitespace runs collapsed to one space */
  norm: string;
  /** norm index -> source index */
  map: Uint32Array;
}

/** Source slice covering norm[a, b) of a segment. */
export function sourceRange(seg: Segment, a: number, b: number): [number, number] {
  const s = seg.map[Math.min(a, seg.map.length - 1)] ?? seg.start;
  const e = b > a ? (seg.map[Math.min(b - 1, seg.map.length - 1)] ?? seg.end - 1) + 1 : s;
  return [s, e];
}

const ABBREVIATIONS = new Set([
  "inc",
  "ltd",
  "co",
  "corp",
  "no",
  "nos",
  "mr",
  "mrs",
  "ms",
  "dr",
  "st",
  "sec",
  "secs",
  "art",
  "para",
  "e.g",
  "i.e",
  "etc",
  "vs",
  "v",
  "jr",
  "sr",
  "u.s",
  "u.s.a",
  "n.a",
  "s.a",
  "l.p",
  "l.l.c",
  "p.c",
  "b.v",
  "n.v",
  "approx",
  "incl",
  "ref",
  "fig",
  "pp",
  "cf",
  "viz",
  "govt",
  "dept",
  "min",
  "max",
  "esq",
]);

/** Split text into sentence-like segments (trimmed, non-empty). */
export function segment(text: string): Segment[] {
  const segments: Segment[] = [];
  const norm = normalizeForMatching(text);
  // Collapse whitespace runs; keep both directions of the index mapping.
  const toSource = new Uint32Array(text.length + 1);
  const toNorm = new Uint32Array(text.length + 1);
  let collapsed = "";
  {
    const parts: string[] = [];
    let n = 0;
    let prevSpace = false;
    for (let i = 0; i < norm.length; i++) {
      const ch = norm[i] ?? " ";
      toNorm[i] = n;
      if (ch === " ") {
        if (prevSpace) continue;
        prevSpace = true;
      } else prevSpace = false;
      parts.push(ch);
      toSource[n] = i;
      n++;
    }
    toNorm[norm.length] = n;
    toSource[n] = norm.length;
    collapsed = parts.join("");
  }
  const make = (s: number, e: number): Segment => {
    const a = toNorm[s] ?? 0;
    const b = toNorm[e] ?? collapsed.length;
    return { start: s, end: e, norm: collapsed.slice(a, b), map: toSource.subarray(a, b) };
  };

  const push = (s: number, e: number) => {
    while (s < e && /\s/.test(text[s] ?? "")) s++;
    while (e > s && /\s/.test(text[e - 1] ?? "")) e--;
    if (e <= s) return;
    // Hard-split very long runs (tables, text with no punctuation).
    while (e - s > MAX_SEGMENT_CHARS) {
      let cut = s + MAX_SEGMENT_CHARS;
      const semi = norm.lastIndexOf("; ", cut);
      if (semi > s + MAX_SEGMENT_CHARS / 2) cut = semi + 1;
      else {
        const sp = norm.lastIndexOf(" ", cut);
        if (sp > s + MAX_SEGMENT_CHARS / 2) cut = sp;
      }
      segments.push(make(s, cut));
      s = cut;
      while (s < e && /\s/.test(text[s] ?? "")) s++;
    }
    if (e > s) segments.push(make(s, e));
  };

  // Sentence ends: terminal punctuation (+ closing quotes/brackets), whitespace, then something
  // that can start a sentence. Line breaks always end a segment.
  const boundary = /[.!?;]["')\]]*(?=[ \t\u00a0]+(?:["'(\[]?[A-Z0-9]|\(?[a-z]{1,4}[.)][ \t]))|\r?\n/g;
  let segStart = 0;
  let m: RegExpExecArray | null;
  while ((m = boundary.exec(text)) !== null) {
    const end = m.index + m[0].length;
    if (m[0].endsWith("\n")) {
      // Hard-wrapped PDF text: a single line break is only a boundary after a blank line,
      // after sentence punctuation, or before a list item / numbered heading.
      let p = m.index - 1;
      while (p >= segStart && (text[p] === " " || text[p] === "\t" || text[p] === "\r")) p--;
      const prev = p >= segStart ? (text[p] ?? "") : "";
      const rest = text.slice(end, end + 24);
      const isBreak =
        prev === "" ||
        prev === "\n" ||
        /[.;:!?]/.test(prev) ||
        /^[ \t]*(?:\r?\n|\(?[a-zA-Z]{1,4}\)\s|\(?\d{1,2}(?:\.\d{1,2})*[.)]?\s|[A-Z]\.\s|[ivxIVX]{1,5}\.\s|[A-Z][A-Z ]{4,}[A-Z]\.?\s*$)/.test(rest);
      if (!isBreak) continue;
      push(segStart, m.index);
      segStart = end;
      continue;
    }
    const punct = m[0][0];
    if (punct === ";") {
      // Semicolons only split long list items ("(a) ...; (b) ...").
      if (m.index - segStart < 200) continue;
    } else if (punct === ".") {
      // Skip abbreviations ("Inc.", "U.S.", "No.") and initials.
      let w = m.index;
      while (w > segStart && /[A-Za-z.]/.test(text[w - 1] ?? "")) w--;
      const word = text.slice(w, m.index).toLowerCase();
      if (ABBREVIATIONS.has(word) || /^[a-z]$/.test(word)) continue;
    }
    push(segStart, end);
    segStart = end;
  }
  push(segStart, text.length);
  return segments;
}

/** Collapse whitespace runs and trim (for values sliced out of the source). */
export function clean(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}
