/** Shapes shared by the clause-rule engine and its per-family rule tables. */
import type { CategoryName } from "../categories.js";

/** A verbatim slice of the input: `text === source.slice(start, end)` (UTF-16 indices). */
export interface Excerpt {
  text: string;
  start: number;
  end: number;
}

export interface ClauseFinding {
  name: CategoryName;
  present: boolean;
  excerpts: Excerpt[];
  value: string | null;
}

export const MAX_EXCERPTS = 3;
export const MAX_EXCERPT_CHARS = 600;

/** One pattern set for a category. */
export interface Rule {
  /** All must match (the first one's position is used to place long excerpts). */
  all: RegExp[];
  /** None may match. */
  none?: RegExp[];
  weight?: number;
}

/** Everything the engine needs to decide one category. */
export interface CategoryRules {
  /** Cheap substring pre-filter: at least one must occur in the segment. */
  any: string[];
  rules: Rule[];
}

/** A family file's table: the rules of some of the categories, keyed by category name. */
export type RuleTable = Partial<Record<CategoryName, CategoryRules>>;
