/**
 * The matching engine: runs each category's rules over the segments and
 * turns the hits into findings (excerpts and, for some categories, a value).
 */
import { CATEGORIES } from "../categories.js";
import { findJurisdiction } from "./governing-law.js";
import { capValue } from "./liability.js";
import { RULES } from "./rules.js";
import { segment, sourceRange, type Segment } from "./segment.js";
import { renewalValue } from "./term.js";
import { MAX_EXCERPT_CHARS, MAX_EXCERPTS, type CategoryRules, type ClauseFinding, type Excerpt } from "./types.js";

interface Hit {
  seg: Segment;
  /** position of the first pattern match, relative to the segment */
  pos: number;
  weight: number;
}

function matchCategory(seg: Segment, cat: CategoryRules, header: string | null): Hit | null {
  let best: Hit | null = null;
  const own = cat.any.some((k) => seg.norm.includes(k));
  const combined = header === null ? null : `${header} ${seg.norm}`;
  const withHeader = combined !== null && cat.any.some((k) => combined.includes(k));
  if (!own && !withHeader) return null;
  for (const rule of cat.rules) {
    const first = rule.all[0];
    if (!first) continue;
    if (rule.none?.some((re) => re.test(seg.norm))) continue;
    let pos = -1;
    let weight = rule.weight ?? 1;
    const m = own ? first.exec(seg.norm) : null;
    if (m && rule.all.every((re, i) => i === 0 || re.test(seg.norm))) pos = m.index;
    else if (withHeader && combined !== null && header !== null) {
      // A list item read together with its lead-in ("... may terminate upon any of the following:").
      const mc = first.exec(combined);
      if (!mc || !rule.all.every((re, i) => i === 0 || re.test(combined))) continue;
      // The item itself must carry some of the matched text.
      if (mc.index + mc[0].length <= header.length + 1 && rule.all.length === 1) continue;
      pos = Math.max(0, mc.index - header.length - 1);
      weight = Math.max(1, weight - 1);
    } else continue;
    if (!best || weight > best.weight) best = { seg, pos, weight };
  }
  return best;
}

function isListItem(norm: string): boolean {
  return /^\(?(?:[a-z]{1,2}|[ivx]{1,5}|\d{1,2}(?:\.\d{1,2}){0,3})[.)]\s/.test(norm);
}

/** Slice an excerpt (at most MAX_EXCERPT_CHARS) around a match inside a segment. */
function toExcerpt(text: string, seg: Segment, pos: number): Excerpt {
  let start = seg.start;
  let end = seg.end;
  if (end - start > MAX_EXCERPT_CHARS) {
    const at = sourceRange(seg, pos, pos + 1)[0];
    start = Math.max(seg.start, at - 150);
    if (start > seg.start) {
      const sp = text.indexOf(" ", start);
      if (sp !== -1 && sp < at) start = sp + 1;
    }
    end = Math.min(seg.end, start + MAX_EXCERPT_CHARS);
    if (end < seg.end) {
      const sp = text.lastIndexOf(" ", end);
      if (sp > start + MAX_EXCERPT_CHARS / 2) end = sp;
    }
  }
  while (start < end && /\s/.test(text[start] ?? "")) start++;
  while (end > start && /\s/.test(text[end - 1] ?? "")) end--;
  return { text: text.slice(start, end), start, end };
}

/**
 * Find the clauses of each category in a contract's text. Returns exactly one
 * finding per category, in CATEGORIES order.
 */
export function extractClausesByRules(text: string): ClauseFinding[] {
  const segments = segment(text);
  return CATEGORIES.map((category): ClauseFinding => {
    const name = category.name;
    const rules = RULES[name];
    const hits: Hit[] = [];
    let header: string | null = null;
    let items = 0;
    for (const seg of segments) {
      if (header !== null && (!isListItem(seg.norm) || ++items > 12)) header = null;
      const hit = matchCategory(seg, rules, header);
      if (hit) hits.push(hit);
      if (seg.norm.endsWith(":") || /\b(?:the following|as follows)\b[^.]{0,30}[:\-]$/.test(seg.norm)) {
        header = seg.norm.length > 400 ? seg.norm.slice(-400) : seg.norm;
        items = 0;
      }
    }
    let accepted = hits;
    let value: string | null = null;
    if (name === "Governing Law") {
      accepted = hits.filter((h) => findJurisdiction(h.seg.norm) !== null);
      const first = accepted[0];
      value = first ? findJurisdiction(first.seg.norm) : null;
    }
    if (accepted.length === 0) return { name, present: false, excerpts: [], value: null };

    const chosen = [...accepted]
      .sort((a, b) => b.weight - a.weight || a.seg.start - b.seg.start)
      .slice(0, MAX_EXCERPTS)
      .sort((a, b) => a.seg.start - b.seg.start);

    if (name === "Renewal Term") {
      for (const h of [...accepted].sort((a, b) => b.weight - a.weight || a.seg.start - b.seg.start)) {
        value = renewalValue(h.seg, text);
        if (value) break;
      }
    } else if (name === "Cap On Liability") {
      for (const h of [...accepted].sort((a, b) => b.weight - a.weight || a.seg.start - b.seg.start)) {
        value = capValue(h.seg, text);
        if (value) break;
      }
    }
    return { name, present: true, excerpts: chosen.map((h) => toExcerpt(text, h.seg, h.pos)), value };
  });
}
