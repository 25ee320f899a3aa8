/**
 * Deterministic, rule-based clause extraction for contracts.
 *
 * The text (often converted from PDF: irregular whitespace, page footers,
 * redaction marks such as `[***]`) is split into sentence-like segments. Each
 * category has patterns written over a normalized copy of each segment
 * (lower case, one kind of quote, dash and space, same length as the source so
 * offsets carry over). A category is present when at least one segment
 * matches a positive pattern and none of that pattern's negative cues.
 *
 * No I/O, no model calls; all regexes are bounded (`.{0,N}`) to stay linear
 * on long contracts.
 *
 * The code lives in ./clause-rules/: segment.ts (normalization, segments),
 * extract.ts (the matching engine), rules.ts (the full table) and one file per
 * category family, each a plain data table of rules.
 */
export { extractClausesByRules } from "./clause-rules/extract.js";
export { normalizeForMatching } from "./clause-rules/segment.js";
export { MAX_EXCERPT_CHARS, MAX_EXCERPTS, type ClauseFinding, type Excerpt } from "./clause-rules/types.js";
