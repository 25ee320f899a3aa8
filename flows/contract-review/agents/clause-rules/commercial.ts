/** Commercial terms family: Audit Rights, Most Favored Nation and Revenue/Profit Sharing. */
import type { RuleTable } from "./types.js";

export const COMMERCIAL_RULES = {
  "Audit Rights": {
    any: ["audit", "inspect", "examin", "books", "records"],
    rules: [
      {
        all: [
          /\baudit(?:s|ing)?\b/,
          /\b(?:right|may|shall|will|permit\w*|allow\w*|entitled|cooperat\w*|conduct\w*|request\w*|access|subject to|make available)\b/,
        ],
        none: [
          /\baudited\b/,
          /\bauditing controls\b/,
          /\baudit committee\b/,
          /\b(?:annual|quarterly) (?:financial )?(?:statements?|reports?)\b/,
          /\bfinancial statements\b/,
        ],
        weight: 2,
      },
      {
        all: [
          /\b(?:inspect\w*|examin\w*|review|access|copies|cop(?:y|ying)|verif\w*)\b.{0,150}?\b(?:books|records|accounts|premises|facilit(?:y|ies)|offices|plants?|sites?|places? of business|location)\b|\b(?:books|records|accounts)\b.{0,200}?\b(?:inspect\w*|examin\w*|available|access|open)\b/,
          /\b(?:right|may|shall|will|permit|allow|entitled|available|open|access|upon request|request)\b/,
        ],
        none: [
          /\binspect\w* (?:the |such |any )?(?:products?|goods|shipments?|deliver\w*|batch\w*|materials?)\b/,
          /\brecords? of (?:the )?(?:meetings?|proceedings)\b/,
          /\bmedical records\b/,
          /\bpublic records\b/,
        ],
        weight: 1,
      },
    ],
  },
  "Most Favored Nation": {
    any: ["favo", "lowest", "best pric", "better"],
    rules: [
      { all: [/\bmost[- ]favou?red\b/], weight: 3 },
      {
        all: [
          /\b(?:no|not)\s+(?:be\s+)?(?:less|more)\s+favou?rabl[ey]\b|\bat least as favou?rable\b|\bmore favou?rable\b.{0,200}?\b(?:than|third part|other|any)\b|\bequally favou?rable\b/,
        ],
        weight: 2,
      },
      { all: [/\blowest (?:net )?(?:price|rate|fee)s?\b|\bbest (?:price|pricing|rate)s?\b|\bbetter (?:price|pricing|terms|rates?)\b/], weight: 1 },
    ],
  },
  "Revenue/Profit Sharing": {
    any: ["royalt", "revenue", "profit", "sales", "income", "receipts", "proceeds", "%", "percent"],
    rules: [
      { all: [/\broyalt(?:y|ies)\b/], none: [/\broyalty[- ]free\b/, /\bfree of (?:any )?royalt/], weight: 2 },
      {
        all: [
          /(?:%|\bpercent\b|\bper cent\b)\s*(?:\)\s*)?(?:\([^)]{0,20}\)\s*)?(?:\w+\s+){0,2}of\s+(?:the\s+|all\s+|its\s+|their\s+|such\s+)?(?:[\w'-]+\s+){0,3}?(?:net|gross|total|adjusted)?\s*(?:sales|revenues?|profits?|income|receipts|proceeds|margin|earnings)\b/,
        ],
        weight: 2,
      },
      {
        all: [
          /\b(?:pay|paid|payable|receive|entitled to)\b.{0,60}?\b(?:of|from) (?:the |all |its )?(?:net|gross) (?:sales|revenues?|profits?|income|receipts|proceeds)\b/,
        ],
        none: [/\btax\w*\b/],
        weight: 2,
      },
      { all: [/\b(?:revenue|profit|income)s?[- ]shar\w*|\bshar\w*\b.{0,80}?\b(?:revenues?|profits?|proceeds|income)\b/], weight: 2 },
    ],
  },
} satisfies RuleTable;
