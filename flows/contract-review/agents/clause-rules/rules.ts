/** The full rule table: every category's rules, gathered from the family files. */
import type { CategoryName } from "../categories.js";
import { ASSIGNMENT_AND_CONTROL_RULES } from "./assignment-and-control.js";
import { COMMERCIAL_RULES } from "./commercial.js";
import { COMPETITION_RULES } from "./competition.js";
import { GOVERNING_LAW_RULES } from "./governing-law.js";
import { IP_OWNERSHIP_RULES } from "./ip-ownership.js";
import { LIABILITY_RULES } from "./liability.js";
import { TERM_RULES } from "./term.js";
import type { CategoryRules } from "./types.js";

export const RULES: Record<CategoryName, CategoryRules> = {
  ...GOVERNING_LAW_RULES,
  ...TERM_RULES,
  ...LIABILITY_RULES,
  ...COMPETITION_RULES,
  ...ASSIGNMENT_AND_CONTROL_RULES,
  ...IP_OWNERSHIP_RULES,
  ...COMMERCIAL_RULES,
};
