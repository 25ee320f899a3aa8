/**
 * Term and termination family: Termination For Convenience and Renewal Term
 * (with the renewal-period value).
 */
import { clean, sourceRange, type Segment } from "./segment.js";
import type { RuleTable } from "./types.js";

const NOTICE_PERIOD =
  /\b(?:\d+|[a-z]+(?:[- ][a-z]+)?\s*\(\d+\)|one|two|three|four|five|six|seven|ten|fifteen|thirty|sixty|ninety|twelve)\s*(?:calendar\s+|business\s+|working\s+)?(?:days?|months?|weeks?|years?)'?s?'?\s*(?:\(\s*\d+\s*\)\s*)?(?:prior\s+|advance\s+|previous\s+)?(?:written\s+)?(?:notice|notification)|\bnotice\b.{0,60}?\b(?:days?|months?|weeks?)\b|\[\*+\]\s*(?:\(\[\*+\]\)\s*)?(?:days?'?\s*)?(?:prior\s+)?(?:written\s+)?notice/;

const TERMINATION_RIGHT =
  "\\b(?:may|can|shall have the right to|shall be entitled to|is entitled to|are entitled to|reserves? the right to|right to|option to|elects? to|decides? to|is free to|at liberty to)\\s+(?:[\\w,()]+\\s+){0,6}?terminat\\w*";

const NONRENEWAL_CUE = /\b(?:days?|months?|notice)\b.{0,40}?\b(?:prior to|before|preceding) (?:the )?(?:expir\w*|end of|conclusion of)\b/;
const CAUSE_CUES =
  /\b(?:breach\w*|default\w*|fail\w*|insolv\w*|bankrupt\w*|cure[ds]?|violat\w*|for cause|with cause|force majeure|receiver\w*|liquidat\w*|winding[- ]up|dissol\w*|change (?:of|in) control|ceases?|misconduct|convicted|negligen\w*|non-?payment|unable to|non-?renewal|not to renew|renew\w*)\b/;

export const TERM_RULES = {
  "Termination For Convenience": {
    any: ["terminat"],
    rules: [
      {
        // Explicit: "terminate ... for convenience".
        all: [/\bterminat\w*\b.{0,120}?\bfor (?:its |their |his |her |the )?(?:own )?convenience\b|\bfor (?:its |their )?convenience\b.{0,120}?\bterminat/],
        weight: 3,
      },
      {
        // A right to terminate without cause / for any reason.
        all: [
          new RegExp(
            `${TERMINATION_RIGHT}.{0,150}?\\b(?:without (?:any )?(?:cause|reason)|for any (?:reason|or no reason)|for no reason|with or without cause|at will)\\b|\\b(?:without (?:any )?cause|for any or no reason|for no reason|with or without cause)\\b.{0,120}?${TERMINATION_RIGHT}`,
          ),
        ],
        none: [/\b(?:upon|after|following|on) (?:the )?(?:any )?(?:early )?(?:termination|expiration)\b.{0,40}\bfor any reason\b/, /\bsurviv\w*/],
        weight: 2,
      },
      {
        // A list item under a termination heading: "(e) without cause on seven days' notice".
        all: [/\b(?:without (?:any )?cause|for convenience)\b/, /\bnotice\b/],
        none: [/\b(?:upon|after|following|on) (?:the )?(?:any )?(?:early )?(?:termination|expiration)\b.{0,40}\bfor any reason\b/],
      },
      {
        // A discretionary right with no condition attached.
        all: [
          new RegExp(
            `${TERMINATION_RIGHT}.{0,120}?\\b(?:in|at) (?:its|their|his|her) (?:sole |absolute |sole and absolute )?(?:discretion|option)\\b|\\b(?:in|at) (?:its|their) (?:sole |absolute |sole and absolute )?discretion\\b.{0,120}?\\bterminat`,
          ),
        ],
        none: [CAUSE_CUES, /\bif\b/, /\bin the event\b/, /\bupon the occurrence\b/],
        weight: 2,
      },
      {
        // "Either party may terminate this Agreement upon 90 days' written notice."
        all: [new RegExp(TERMINATION_RIGHT), NOTICE_PERIOD],
        none: [CAUSE_CUES, NONRENEWAL_CUE, /\bif\b/, /\bin the event\b/, /\bupon the occurrence\b/, /\bsurviv\w*/],
      },
      {
        all: [/\bterminat\w*\b.{0,120}?\bat any time\b|\bat any time\b.{0,120}?\bterminat/, /\bnotice\b/],
        none: [CAUSE_CUES, NONRENEWAL_CUE, /\bif\b/, /\bin the event\b/, /\bsurviv\w*/],
      },
      {
        all: [/\b(?:either party|either of the parties|each party|both parties)\b.{0,80}?\bterminat\w*/, NOTICE_PERIOD],
        none: [CAUSE_CUES, NONRENEWAL_CUE, /\bif\b/, /\bin the event\b/, /\bsurviv\w*/],
      },
    ],
  },
  "Renewal Term": {
    any: ["renew", "extend", "extension", "year to year", "year-to-year", "successive"],
    rules: [
      { all: [/\b(?:automatic(?:ally)?|auto)[- ]?(?:be\s+)?(?:renew\w*|extend\w*|extension)/], weight: 3 },
      {
        all: [
          /\b(?:renew\w*|extend\w*|extension|continue)\b.{0,120}?\b(?:successive|additional|subsequent|further|consecutive|another)\b.{0,60}?\b(?:terms?|periods?|years?|months?)\b/,
        ],
        none: [/\binsurance\b/, /\b(?:permit|licen[cs]e|registration)s?\b.{0,20}\brenew/],
        weight: 2,
      },
      { all: [/\byear[- ]to[- ]year\b|\bfrom year to year\b|\bmonth[- ]to[- ]month\b/], none: [/\binsurance\b/], weight: 2 },
      { all: [/\brenewal (?:terms?|periods?)\b|\bextension (?:terms?|periods?)\b|\bextended terms?\b/], weight: 1 },
      {
        all: [/\b(?:renew|extend)\w*\s+(?:the\s+)?(?:term of\s+)?(?:this agreement|the (?:initial )?term|the agreement)\b/],
        none: [/\binsurance\b/, /\bno obligation to\b/],
        weight: 1,
      },
    ],
  },
} satisfies RuleTable;

const NUM_WORD = "(?:\\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty-four|thirty-six|twenty|thirty|sixty|ninety)";
const DURATION = `(?:${NUM_WORD}(?:\\s*\\(\\s*\\d+\\s*\\))?[\\s-]*(?:calendar\\s+|contract\\s+)?(?:years?|months?)(?:'s?)?)`;
const NOT_A_NOTICE_PERIOD = "(?!'?s?\\s*(?:\\(\\d+\\)\\s*)?(?:prior|before|in advance|advance|written|notice|after|following|from))";
const RENEWAL_PATTERNS: RegExp[] = [
  /\b(?:from\s+|on\s+an?\s+)?(?:year[- ]to[- ]year|month[- ]to[- ]month)\b(?:\s+basis)?/,
  new RegExp(
    `\\b(?:successive|additional|subsequent|consecutive|further|renewal|extension|another)\\s+(?:renewal\\s+|extension\\s+)?(?:terms?|periods?)\\s+of\\s+${DURATION}(?:\\s+each)?`,
  ),
  new RegExp(
    `\\b(?:(?:successive|additional|subsequent|consecutive|further|another|an additional|one or more)\\s+)?(?:(?:up to\\s+)?${NUM_WORD}(?:\\s*\\(\\s*\\d+\\s*\\))?\\s+(?:successive\\s+|additional\\s+|renewal\\s+)*(?:terms?|periods?)\\s+of\\s+)?${DURATION}${NOT_A_NOTICE_PERIOD}(?:\\s+(?:renewal\\s+|extension\\s+)?(?:terms?|periods?))?`,
  ),
  /\b(?:successive|additional|subsequent)\s+(?:renewal\s+)?(?:terms?|periods?)\b(?:\s+of\s+the\s+same\s+(?:duration|length))?/,
];

export function renewalValue(seg: Segment, text: string): string | null {
  const norm = seg.norm;
  const kw = /\b(?:renew|extend|extension)/.exec(norm) ?? /\bcontinue/.exec(norm);
  const from = kw ? kw.index : 0;
  const cut = (a: number, b: number) => {
    const [s, e] = sourceRange(seg, a, b);
    return clean(text.slice(s, e));
  };
  for (const re of RENEWAL_PATTERNS) {
    const tail = re.exec(norm.slice(from));
    if (tail) return cut(from + tail.index, from + tail.index + tail[0].length);
  }
  for (const re of RENEWAL_PATTERNS) {
    const m = re.exec(norm);
    if (m) return cut(m.index, m.index + m[0].length);
  }
  return null;
}
