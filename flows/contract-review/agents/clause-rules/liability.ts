/**
 * Liability family: Cap On Liability (with the cap value), Uncapped Liability
 * and Liquidated Damages.
 */
import { clean, sourceRange, type Segment } from "./segment.js";
import type { RuleTable } from "./types.js";

const DAMAGE_KINDS =
  /\b(?:indirect|incidental|consequential|special|punitive|exemplary|lost profits?|loss of (?:profits?|revenues?|business|goodwill|use|data)|lost (?:revenues?|business|data))\b/;

const CARVE_OUT =
  /\b(?:except|excepting|excluding|exclusive of|other than|save|unless|does not apply|shall not apply|will not apply|not apply to|shall not limit|nothing in this)\b.{0,300}?(?:\b(?:indemni\w*|confidential\w*|non-?disclosure|gross(?:ly)? negligen\w*|wil(?:l)?ful|intentional|infring\w*|misappropriat\w*|fraud\w*|death|bodily injury|personal injury|(?:section|article|paragraph|clause)s? \[?\d)|\[\*+\])/;

export const LIABILITY_RULES = {
  "Cap On Liability": {
    any: ["liab", "damage", "claim", "action", "exceed", "remed"],
    rules: [
      {
        all: [/\b(?:liabilit(?:y|ies)|liable|damages|recovery|obligations?)\b.{0,250}?\b(?:not|never)\s+(?:to\s+)?exceed\b/],
        weight: 3,
      },
      {
        all: [/\b(?:aggregate|total|maximum|cumulative|entire|overall)\s+(?:\w+\s+){0,2}liabilit(?:y|ies)\b/],
        none: [/\bliability insurance\b/],
        weight: 3,
      },
      { all: [/\bliabilit(?:y|ies)\b.{0,150}?\b(?:(?:is|be|are|shall be|will be)\s+limited to|capped at|limited to (?:the|an?) (?:amount|sum))\b/], weight: 3 },
      {
        all: [
          /\b(?:in no event|under no circumstances|neither party|no party|not be liable|not have any liability|no liability|nor shall|not be responsible)\b/,
          /\b(?:liable|liability|responsible)\b/,
          DAMAGE_KINDS,
        ],
        none: [/\bindemnif\w* (?:and hold|against|for)\b.{0,80}\b(?:incidental|special)\b.{0,30}\bdamages\b(?!.{0,200}\bnot\b)/],
        weight: 2,
      },
      { all: [/\b(?:disclaims?|waives?|excludes?)\b.{0,120}?\b(?:liabilit\w*|damages|claims?)\b/, DAMAGE_KINDS], weight: 2 },
      {
        all: [
          /\b(?:action|claim|suit|proceeding)s?\b.{0,250}?\b(?:brought|commenced|instituted|filed|asserted|made)\b.{0,80}?\bwithin\b.{0,60}?\b(?:years?|months?|days)\b/,
        ],
        none: [/\bindemnif\w*/, /\bnotice of (?:any )?claim/],
        weight: 1,
      },
      { all: [/\blimitation of liability\b/, /\b(?:liable|liability)\b.{0,200}\b(?:limit|exceed|damages)/], weight: 1 },
    ],
  },
  "Uncapped Liability": {
    any: ["liab", "damage"],
    rules: [
      {
        all: [
          CARVE_OUT,
          /\b(?:liabilit(?:y|ies)|liable)\b/,
          new RegExp(`\\b(?:exceed|limited to|aggregate|maximum|cap|in no event|under no circumstances)\\b|${DAMAGE_KINDS.source}`),
        ],
        none: [
          /\bindemnif\w* (?:and hold|against)\b.{0,300}\bexcept\b.{0,80}\bnegligen/,
          /\bbeyond (?:its|their|such party's|the) (?:\w+\s+)?control\b|\bforce majeure\b/,
        ],
        weight: 2,
      },
      {
        all: [/\b(?:limitations?|exclusions?|caps?)\b.{0,150}?\b(?:shall|will) not apply\b/, /\b(?:liabilit|damages)/],
        weight: 2,
      },
      { all: [/\bunlimited liability\b|\bliability\b.{0,40}\bshall be unlimited\b|\bwaives?\b.{0,80}\b(?:limitations?|liability caps?)\b/] },
    ],
  },
  "Liquidated Damages": {
    any: ["liquidated", "fee", "penalt", "payment", "buy out", "buy-out", "buyout"],
    rules: [
      { all: [/\bliquidated damages\b/], weight: 3 },
      {
        all: [
          /\b(?:early )?termination (?:fee|payment|charge|penalty|compensation|amount)s?\b|\b(?:exit|break[- ]?up|cancellation|kill|early termination) fees?\b/,
        ],
        weight: 2,
      },
      {
        all: [/\b(?:pay|paid|payable|impose|charge)\w*\b.{0,100}?\bpenalt(?:y|ies)\b|\bpenalt(?:y|ies) (?:of|equal|in the amount)\b/],
        none: [/\bpenalties (?:and|or) interest\b/, /\b(?:tax|taxes|fines?)\b/, /\bwithout penalty\b/],
        weight: 1,
      },
    ],
  },
} satisfies RuleTable;

const CAP_PATTERNS: RegExp[] = [
  /(?:us\s?)?[$£€¥]\s?(?:\[\*+\]|[\d,]+(?:\.\d+)?)(?:\s*(?:million|thousand|billion))?(?:\s*\([^)]{0,80}\))?/,
  /\b(?:[\d,]+(?:\.\d+)?|[a-z]+)\s*(?:\(\s*[\d,]+\s*\)\s*)?(?:u\.s\.\s+)?(?:dollars|usd|euros?|pounds)\b/,
  /\b(?:the\s+)?(?:total\s+|aggregate\s+)?(?:amounts?|fees|sums|charges|royalties|price|compensation|payments)\s+(?:actually\s+)?(?:paid|payable|received|due)\b.{0,120}?(?=[,;.]|$)/,
  /\b(?:\w+\s+times\s*\(\d+x?\)|\d+x|\w+\s+times)\s+(?:the\s+)?[\w\s]{0,60}?(?=[,;.]|$)/,
  /\bamount of (?:the\s+)?insurance(?: coverage)?\b/,
];

export function capValue(seg: Segment, text: string): string | null {
  const norm = seg.norm;
  if (!/\b(?:exceed|limited to|aggregate|maximum|total liability|cap)\b/.test(norm)) return null;
  for (const re of CAP_PATTERNS) {
    const m = re.exec(norm);
    if (m) {
      const [s, e] = sourceRange(seg, m.index, m.index + m[0].length);
      return clean(text.slice(s, e));
    }
  }
  return null;
}
