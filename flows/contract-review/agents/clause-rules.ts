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
 */
import { CATEGORIES, type CategoryName } from "./categories.js";

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
const MAX_SEGMENT_CHARS = 2000;

// ---------------------------------------------------------------------------
// Normalization and segmentation
// ---------------------------------------------------------------------------

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

interface Segment {
  start: number;
  end: number;
  /** normalized text of source.slice(start, end), whitespace runs collapsed to one space */
  norm: string;
  /** norm index -> source index */
  map: Uint32Array;
}

/** Source slice covering norm[a, b) of a segment. */
function sourceRange(seg: Segment, a: number, b: number): [number, number] {
  const s = seg.map[Math.min(a, seg.map.length - 1)] ?? seg.start;
  const e = b > a ? (seg.map[Math.min(b - 1, seg.map.length - 1)] ?? seg.end - 1) + 1 : s;
  return [s, e];
}

const ABBREVIATIONS = new Set([
  "inc", "ltd", "co", "corp", "no", "nos", "mr", "mrs", "ms", "dr", "st", "sec", "secs", "art", "para",
  "e.g", "i.e", "etc", "vs", "v", "jr", "sr", "u.s", "u.s.a", "n.a", "s.a", "l.p", "l.l.c", "p.c", "b.v", "n.v",
  "approx", "incl", "ref", "fig", "pp", "cf", "viz", "govt", "dept", "min", "max", "esq",
]);

/** Split text into sentence-like segments (trimmed, non-empty). */
function segment(text: string): Segment[] {
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

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

interface Rule {
  /** All must match (the first one's position is used to place long excerpts). */
  all: RegExp[];
  /** None may match. */
  none?: RegExp[];
  weight?: number;
}

interface CategoryRules {
  /** Cheap substring pre-filter: at least one must occur in the segment. */
  any: string[];
  rules: Rule[];
}

// Shared vocabulary.
const NOTICE_PERIOD =
  /\b(?:\d+|[a-z]+(?:[- ][a-z]+)?\s*\(\d+\)|one|two|three|four|five|six|seven|ten|fifteen|thirty|sixty|ninety|twelve)\s*(?:calendar\s+|business\s+|working\s+)?(?:days?|months?|weeks?|years?)'?s?'?\s*(?:\(\s*\d+\s*\)\s*)?(?:prior\s+|advance\s+|previous\s+)?(?:written\s+)?(?:notice|notification)|\bnotice\b.{0,60}?\b(?:days?|months?|weeks?)\b|\[\*+\]\s*(?:\(\[\*+\]\)\s*)?(?:days?'?\s*)?(?:prior\s+)?(?:written\s+)?notice/;

const TERMINATION_RIGHT =
  "\\b(?:may|can|shall have the right to|shall be entitled to|is entitled to|are entitled to|reserves? the right to|right to|option to|elects? to|decides? to|is free to|at liberty to)\\s+(?:[\\w,()]+\\s+){0,6}?terminat\\w*";

const NONRENEWAL_CUE = /\b(?:days?|months?|notice)\b.{0,40}?\b(?:prior to|before|preceding) (?:the )?(?:expir\w*|end of|conclusion of)\b/;

/** Consequences that make a change of control matter: termination, consent, notice, assignment. */
const CONTROL_CONSEQUENCE =
  /\b(?:terminat\w*\s+(?:this|the)\s+(?:agreement|contract|term|license)|(?:may|right to|entitled to|option to|elect to)\s+(?:\w+\s+){0,3}terminat\w*|shall (?:automatically |immediately )?terminate|(?:is|are|be|been) terminated|consent|approval|assign\w*|transfer\w*|notif\w*|notice)\b/;

/** "Either party may assign this Agreement ... (to a successor / upon a merger)". */
const PERMISSIVE_ASSIGNMENT =
  /(?<!not )\b(?:may|can|shall (?:have the right|be (?:permitted|entitled|free)) to|is (?:permitted|entitled|free) to)\s+(?:\w+\s+){0,4}?(?:assign|transfer|novate)\b/;

const CAUSE_CUES =
  /\b(?:breach\w*|default\w*|fail\w*|insolv\w*|bankrupt\w*|cure[ds]?|violat\w*|for cause|with cause|force majeure|receiver\w*|liquidat\w*|winding[- ]up|dissol\w*|change (?:of|in) control|ceases?|misconduct|convicted|negligen\w*|non-?payment|unable to|non-?renewal|not to renew|renew\w*)\b/;

const DAMAGE_KINDS =
  /\b(?:indirect|incidental|consequential|special|punitive|exemplary|lost profits?|loss of (?:profits?|revenues?|business|goodwill|use|data)|lost (?:revenues?|business|data))\b/;

const CARVE_OUT =
  /\b(?:except|excepting|excluding|exclusive of|other than|save|unless|does not apply|shall not apply|will not apply|not apply to|shall not limit|nothing in this)\b.{0,300}?(?:\b(?:indemni\w*|confidential\w*|non-?disclosure|gross(?:ly)? negligen\w*|wil(?:l)?ful|intentional|infring\w*|misappropriat\w*|fraud\w*|death|bodily injury|personal injury|(?:section|article|paragraph|clause)s? \[?\d)|\[\*+\])/;

const IP_NOUNS =
  /\b(?:intellectual property|inventions?|copyrights?|patents?|trademarks?|trade marks?|work product|works?|deliverables|developments?|improvements?|know-how|iprs?|ip|right,? title and interest|rights,? title and interests?|interest therein|derivative works?|technology|results|materials|modifications|enhancements)\b/;

const STRONG_IP_NOUNS =
  /\b(?:intellectual property|inventions?|copyrights?|patents?|work product|deliverables|developments|improvements|iprs?|right,? title and interest|derivative works?|works? of authorship|know-how)\b/;

/** Wording of a contract assignment (Anti-Assignment), not an IP transfer. */
const ASSIGNS_THE_CONTRACT =
  /\bassign\w*\s+(?:\w+\s+){0,3}(?:this agreement|its rights (?:or|and) obligations|rights and obligations|rights or obligations|any of its rights|(?:this|the) (?:contract|license|licence))\b/;

const CREATION_CUE =
  /\b(?:created|develop(?:ed|s)|conceived|made|generated|produced|prepared|authored|arising|resulting|derived|discover\w*|reduced to practice|in the course of|under this agreement|hereunder|pursuant to this agreement)\b/;

const JURISDICTIONS: [string, string][] = (
  [
    ["england and wales", "England and Wales"],
    ["people's republic of china", "People's Republic of China"],
    ["hong kong", "Hong Kong"],
    ["new york", "New York"],
    ["new jersey", "New Jersey"],
    ["new hampshire", "New Hampshire"],
    ["new mexico", "New Mexico"],
    ["north carolina", "North Carolina"],
    ["south carolina", "South Carolina"],
    ["north dakota", "North Dakota"],
    ["south dakota", "South Dakota"],
    ["west virginia", "West Virginia"],
    ["rhode island", "Rhode Island"],
    ["district of columbia", "District of Columbia"],
    ["british columbia", "British Columbia"],
    ["cayman islands", "Cayman Islands"],
    ["british virgin islands", "British Virgin Islands"],
    ["united kingdom", "United Kingdom"],
    ["new south wales", "New South Wales"],
    ["puerto rico", "Puerto Rico"],
    ["nova scotia", "Nova Scotia"],
    ["new brunswick", "New Brunswick"],
  ] as [string, string][]
).concat(
  [
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
    "Nevada", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Tennessee", "Texas", "Utah", "Vermont", "Virginia",
    "Washington", "Wisconsin", "Wyoming", "Ontario", "Quebec", "Alberta", "Manitoba", "Saskatchewan", "England",
    "Scotland", "Ireland", "Singapore", "China", "Japan", "Germany", "France", "Switzerland", "Netherlands",
    "Israel", "India", "Australia", "Canada", "Sweden", "Korea", "Taiwan", "Bermuda", "Luxembourg", "Italy",
    "Spain", "Brazil", "Mexico", "Denmark", "Norway", "Finland", "Belgium", "Austria", "Cyprus", "Malaysia",
  ].map((n) => [n.toLowerCase(), n] as [string, string]),
);

const JURISDICTION_ADJECTIVES: [string, string][] = [
  ["english", "England"],
  ["prc", "People's Republic of China"],
  ["chinese", "People's Republic of China"],
  ["german", "Germany"],
  ["french", "France"],
  ["swiss", "Switzerland"],
  ["dutch", "Netherlands"],
  ["irish", "Ireland"],
  ["scots", "Scotland"],
  ["israeli", "Israel"],
  ["indian", "India"],
  ["japanese", "Japan"],
  ["singapore", "Singapore"],
  ["hong kong", "Hong Kong"],
];

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const JUR_ALT = JURISDICTIONS.map(([k]) => escapeRe(k))
  .sort((a, b) => b.length - a.length)
  .join("|");
const JUR_NAME = new Map(JURISDICTIONS);
const ADJ_ALT = JURISDICTION_ADJECTIVES.map(([k]) => escapeRe(k)).join("|");
const ADJ_NAME = new Map(JURISDICTION_ADJECTIVES);

const LAWS_OF_JUR = new RegExp(
  `\\blaws?\\s+(?:of|in|of and in)\\s+(?:the\\s+)?(?:(?:state|commonwealth|province|republic|kingdom|people's republic|federal republic|hong kong special administrative region)\\s+of\\s+)?(${JUR_ALT})\\b`,
);
const JUR_LAW = new RegExp(`\\b(${JUR_ALT}|${ADJ_ALT})\\s+(?:state\\s+)?laws?\\b`);

/** The jurisdiction named as governing law in a (normalized) segment, if any. */
function findJurisdiction(norm: string): string | null {
  const a = LAWS_OF_JUR.exec(norm);
  const b = JUR_LAW.exec(norm);
  const pick = a && b ? (a.index <= b.index ? a : b) : (a ?? b);
  if (!pick) return null;
  const key = pick[1] ?? "";
  let name = JUR_NAME.get(key) ?? ADJ_NAME.get(key) ?? null;
  if (name === "China") name = "People's Republic of China";
  return name;
}

const GOVERN_VERB =
  /\b(?:governed|construed|interpreted|enforced|governs|govern|construction|interpretation|subject to|determined|resolved|decided)\b/;

const RULES: Record<CategoryName, CategoryRules> = {
  "Governing Law": {
    any: ["law"],
    rules: [
      {
        all: [GOVERN_VERB, /\blaws?\b/],
        none: [/\b(?:organi[sz]ed|incorporated|existing|registered|formed|chartered)\s+(?:and\s+existing\s+)?under\b/],
      },
      { all: [/\bgoverning law\b/, /\blaws?\b/] },
    ],
  },
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
        all: [new RegExp(`${TERMINATION_RIGHT}.{0,120}?\\b(?:in|at) (?:its|their|his|her) (?:sole |absolute |sole and absolute )?(?:discretion|option)\\b|\\b(?:in|at) (?:its|their) (?:sole |absolute |sole and absolute )?discretion\\b.{0,120}?\\bterminat`)],
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
  "Non-Compete": {
    any: ["compet", "restricted period", "restricted territory", "restricted business", "similar", "identical", "indirectly"],
    rules: [
      { all: [/\bnon-?compet\w*/], none: [/\bnon-?competent\b/], weight: 2 },
      {
        all: [
          /\b(?:shall not|will not|may not|must not|cannot|agrees? not to|undertakes? not to|covenants? not to|not to|neither|nor|refrain|prohibit\w*|restrict\w*|no party|not (?:directly or indirectly|either directly))\b/,
          /\b(?:compete|competes|competing|competitive with|competitive to|in competition|competitor|competitors|competition with|competition among)\b/,
        ],
        none: [
          /\bcompetitive (?:bid\w*|pric\w*|rates?|terms|basis|position|advantage|products? or services? of (?:such )?party|market)\b/,
          /\b(?:anti-?competitive|unfair competition|competition (?:law|act|authorit))/,
          /\bconfidential information\b/,
          /\bnot be deemed\b.{0,60}\bcompet/,
          /\bnothing (?:in|herein|contained)\b.{0,200}\b(?:compet|prevent|restrict|preclude|limit)/,
        ],
      },
      {
        // "shall not ... sell any product that is the same or similar to the Products"
        all: [
          /\b(?:shall not|will not|may not|must not|agrees? not to|undertakes? not to|covenants? not to|not to|neither|nor shall)\b.{0,200}?\b(?:engag\w*|participat\w*|sell|offer|market|distribut\w*|manufactur\w*|develop|own|operate|invest|carry on|be (?:employed|engaged|concerned|interested))\b.{0,150}?\b(?:similar|identical|competitive|competing|directly or indirectly)\b/,
          /\b(?:business|products?|services?|projects?|activit(?:y|ies)|field|territory)\b/,
        ],
        none: [/\bconfidential\w*/, /\b(?:assign|sublicen[sc]\w*|disclos\w*|hire|employ)\b/],
      },
      {
        all: [
          /\b(?:shall not|will not|may not|must not|agrees? not to|undertakes? not to|covenants? not to|not to|neither|nor shall)\b.{0,150}?\bdirectly or indirectly\b.{0,150}?\b(?:engage|participate|own|manage|operate|carry on|invest|be (?:employed|engaged|concerned|interested))\w*\b.{0,100}?\b(?:business|enterprise|activit(?:y|ies)|venture)\b/,
        ],
        none: [/\bconfidential\w*/],
      },
      { all: [/\brestricted (?:period|territory|business)\b/, /\b(?:shall not|will not|not to|agrees?|undertakes?)\b/] },
    ],
  },
  Exclusivity: {
    any: ["exclusiv", "requirements", "other than", "third part", "any other", "anyone", "others", "solely"],
    rules: [
      {
        all: [
          /(?<!non)(?<!non-)(?<!non )(?<!non- )\bexclusive\b\s+(?:(?!of\b|and\b|in\b|to\b|any\b|or\b|remed)[\w-]+,?\s+){0,4}(?:right|rights|license|licen[cs]ee|licence|distributor|distributors|distribution|supplier|supply|agent|agency|partner|sponsor|provider|reseller|dealer|representative|basis|manufacturer|marketing|seller|vendor|advertiser|customer|appointment)\b/,
        ],
        none: [
          /\bexclusive\s+(?:right,? title|property|owner|ownership)\b/,
          /\bexclusive rights? (?:and interests? )?in (?:all|and to)\b/,
          /\b(?:sole and )?exclusive (?:remed\w*|jurisdiction|venue|forum)\b/,
          /\bexclusive rights? to (?:terminate|bring|seek|enforce|prosecute|defend|control|settle|file|maintain)\b/,
          /"?copyright"? means\b/,
        ],
        weight: 3,
      },
      { all: [/(?<!non)(?<!non-)(?<!non )(?<!non- )\bexclusivity\b/], none: [/\bno exclusivity\b/, /\brelieve\b/], weight: 2 },
      {
        all: [
          /\b(?:purchase|buy|obtain|source|procure|order|sell|supply|process|distribute|manufacture|market|provide)\w*\s+(?:[\w-]+\s+){0,6}?exclusively\s+(?:from|through|to|with|by|for)\b|\bexclusively\s+(?:from|through|with|by)\s+(?:the\s+)?(?:company|supplier|vendor|licensor|distributor|manufacturer|seller|party)/,
        ],
        weight: 2,
      },
      {
        all: [/\b(?:all|100%|entire|one hundred percent)\s+(?:\(\d+%\)\s+)?(?:of\s+)?(?:its|their|the|his|buyer's|customer's|company's)\s+(?:[\w-]+\s+){0,3}?requirements\b/],
        weight: 2,
      },
      {
        all: [
          /\b(?:shall not|will not|may not|agrees? not to|not to|nor shall|neither)\b.{0,100}?\b(?:grant|licen[sc]e|appoint|authori[sz]e|sell|supply|enter into|endorse|sponsor|purchase|buy|be granted)\w*\b.{0,100}?\b(?:any (?:other|third)|anyone other than|any person other than|any entity other than|any party other than|others|other (?:distributors?|suppliers?|manufacturers?|licensees?|vendors?|providers?|companies|parties))\b/,
        ],
        none: [
          /\bconfidential\w*/,
          /\b(?:assign|sublicen[sc]\w*|subcontract|transfer|disclos\w*|pledge|encumb\w*|infring\w*|copy|modify|employ\w*|solicit\w*)\b/,
          /\b(?:personal (?:data|information)|information)\b/,
        ],
      },
    ],
  },
  "Change Of Control": {
    any: ["control", "merger", "merges", "consolidat", "acqui", "substantially all", "ownership", "reorganiz", "voting"],
    rules: [
      {
        all: [
          /\bchange (?:of|in) (?:the\s+)?(?:\w+\s+)?(?:control|ownership)\b|\bchange-of-control\b|\bownership change\b/,
          CONTROL_CONSEQUENCE,
        ],
        none: [
          /"?change (?:of|in) control"? (?:shall )?means?\b/,
          /\bseverance\b/,
          /\bgood reason\b/,
          /\bnot be deemed (?:to be )?an? (?:assignment|transfer)\b/,
          PERMISSIVE_ASSIGNMENT,
        ],
        weight: 3,
      },
      {
        // A merger / sale of the business that needs consent or notice, or allows termination.
        all: [
          /\b(?:merger|merges?|consolidat\w*|acquisition|reorgani[sz]ation|(?:sale|transfer|disposition) of (?:all|substantially all)|(?:all|substantially all) (?:or substantially all )?of (?:its|the|their|such party's) (?:\w+\s+){0,3}?(?:assets|business|stock|shares|equity)|controlling interest|voting (?:stock|securities|shares|power|control)|(?:\d+%|fifty percent)\s*(?:\(\d+%\)\s*)?or more)\b/,
          CONTROL_CONSEQUENCE,
        ],
        none: [
          /\bnot be deemed (?:to be )?an? (?:assignment|transfer)\b/,
          /\bconfidential information\b/,
          /\b(?:bankrupt\w*|insolven\w*|receiver\w*|creditors|liquidation)\b/,
          // Merely permitting assignment to a successor is not a change-of-control restriction.
          PERMISSIVE_ASSIGNMENT,
          /"[^"]{2,40}" (?:shall )?means?\b/,
        ],
        weight: 2,
      },
    ],
  },
  "Anti-Assignment": {
    any: ["assign", "transfer", "delegat", "novat"],
    rules: [
      {
        all: [
          /\b(?:shall|will|may|can|could|must)\s*not\b.{0,150}?\b(?:assign|transfer|delegate|novate|sell|convey)\b|\bnot\s+(?:be\s+)?(?:assignable|transferable|assigned|transferred|delegated)\b|\bno assignment\b|\bneither\b.{0,60}?\b(?:assign|transfer)\w*\b|\bnot (?:be )?entitled to assign\b|\bnot have the right to assign\b/,
        ],
        none: [/\bhereby (?:irrevocably )?assigns?\b/, /\bnon-?transferable (?:licen|right)/, /\bintellectual property rights?\b.{0,60}\bnot\b.{0,40}\btransfer/],
        weight: 3,
      },
      {
        all: [
          /\b(?:assign\w*|transfer\w*|delegat\w*|novat\w*)\b.{0,200}?\b(?:without|prior|subject to|upon|unless|with)\b.{0,100}?\b(?:consent|approval|notice|notification|agreement)\b|\b(?:consent|approval)\b.{0,100}?\b(?:assign\w*|transfer\w*|delegat\w*)\b/,
        ],
        none: [/\bhereby (?:irrevocably )?assigns?\b/, /\b(?:title|risk of loss)\b.{0,40}\btransfer/, /\btransfer pric/, /\bfunds transfer|wire transfer\b/],
        weight: 2,
      },
      { all: [/\b(?:assign\w*|transfer\w*|delegat\w*)\b.{0,150}?\b(?:null and void|void|of no (?:force or )?effect|invalid)\b/], weight: 2 },
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
  "Liquidated Damages": {
    any: ["liquidated", "fee", "penalt", "payment", "buy out", "buy-out", "buyout"],
    rules: [
      { all: [/\bliquidated damages\b/], weight: 3 },
      {
        all: [/\b(?:early )?termination (?:fee|payment|charge|penalty|compensation|amount)s?\b|\b(?:exit|break[- ]?up|cancellation|kill|early termination) fees?\b/],
        weight: 2,
      },
      {
        all: [/\b(?:pay|paid|payable|impose|charge)\w*\b.{0,100}?\bpenalt(?:y|ies)\b|\bpenalt(?:y|ies) (?:of|equal|in the amount)\b/],
        none: [/\bpenalties (?:and|or) interest\b/, /\b(?:tax|taxes|fines?)\b/, /\bwithout penalty\b/],
        weight: 1,
      },
    ],
  },
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
  "Ip Ownership Assignment": {
    any: ["assign", "hire", "property", "own", "vest", "belong", "transfer"],
    rules: [
      {
        all: [/\b(?:hereby|does hereby)\s+(?:\w+\s+){0,3}(?:assigns?|transfers?|conveys?)\b/, IP_NOUNS],
        none: [ASSIGNS_THE_CONTRACT, /\bconsent\b/, /\blicen[cs]e (?:grant|to)\b/],
        weight: 3,
      },
      {
        all: [/\b(?:shall|will|agrees? to|undertakes? to)\s+(?:\w+\s+){0,3}(?:assign|transfer|convey)\b/, STRONG_IP_NOUNS],
        none: [ASSIGNS_THE_CONTRACT, /\bconsent\b/, /\blicen[cs]e (?:grant|to)\b/, /\b(?:not|no)\b.{0,30}\b(?:assign|transfer)\b/],
        weight: 2,
      },
      { all: [/\bworks?[- ](?:made[- ])?(?:for[- ]hire)\b/], weight: 3 },
      {
        all: [/\b(?:assigns?|transfers?|conveys?)\s+(?:to\s+[\w'&.,-]+(?:\s+[\w'&.,-]+){0,3}\s+)?all (?:of (?:its|their|his|her) )?(?:rights?,? title,? and interests?|rights? and title)\b/],
        none: [ASSIGNS_THE_CONTRACT, /\b(?:shall not|may not|will not)\b.{0,40}\bassign/],
        weight: 2,
      },
      {
        all: [
          /\b(?:shall|will)\s+(?:\w+\s+){0,2}(?:be|become|vest in|belong to|be owned by|be deemed to be)\s+(?:and remain\s+)?(?:the\s+)?(?:sole\s+|exclusive\s+|sole and exclusive\s+|absolute\s+)?(?:property|owner|ownership)?\b/,
          /\b(?:property of|owned (?:exclusively |solely )?by|vest\w*|belong\w*|owner of)\b/,
          STRONG_IP_NOUNS,
          CREATION_CUE,
        ],
        none: [/\bremain\b/, /\bconfidential information\b/, /\bretain\w*\b/, /\bpre-?existing\b/, /\b(?:owned|controlled) by (?:the )?\w+ (?:prior to|before|as of)\b/],
        weight: 2,
      },
      {
        all: [
          /\b(?:shall|will)\s+(?:exclusively\s+|solely\s+)?own\b.{0,120}?\b(?:deliverables|work product|developments|inventions|improvements|intellectual property|derivative works?|results)\b/,
          CREATION_CUE,
        ],
        none: [/\bremain\b/, /\bretain\w*\b/],
        weight: 2,
      },
      { all: [/\b(?:shall|will)\s+(?:exclusively\s+|solely\s+)?own\s+(?:all\s+)?(?:deliverables|work product)\b/], weight: 2 },
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
        all: [/\b(?:pay|paid|payable|receive|entitled to)\b.{0,60}?\b(?:of|from) (?:the |all |its )?(?:net|gross) (?:sales|revenues?|profits?|income|receipts|proceeds)\b/],
        none: [/\btax\w*\b/],
        weight: 2,
      },
      { all: [/\b(?:revenue|profit|income)s?[- ]shar\w*|\bshar\w*\b.{0,80}?\b(?:revenues?|profits?|proceeds|income)\b/], weight: 2 },
    ],
  },
};

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

const NUM_WORD =
  "(?:\\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty-four|thirty-six|twenty|thirty|sixty|ninety)";
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

function renewalValue(seg: Segment, text: string): string | null {
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

const CAP_PATTERNS: RegExp[] = [
  /(?:us\s?)?[$£€¥]\s?(?:\[\*+\]|[\d,]+(?:\.\d+)?)(?:\s*(?:million|thousand|billion))?(?:\s*\([^)]{0,80}\))?/,
  /\b(?:[\d,]+(?:\.\d+)?|[a-z]+)\s*(?:\(\s*[\d,]+\s*\)\s*)?(?:u\.s\.\s+)?(?:dollars|usd|euros?|pounds)\b/,
  /\b(?:the\s+)?(?:total\s+|aggregate\s+)?(?:amounts?|fees|sums|charges|royalties|price|compensation|payments)\s+(?:actually\s+)?(?:paid|payable|received|due)\b.{0,120}?(?=[,;.]|$)/,
  /\b(?:\w+\s+times\s*\(\d+x?\)|\d+x|\w+\s+times)\s+(?:the\s+)?[\w\s]{0,60}?(?=[,;.]|$)/,
  /\bamount of (?:the\s+)?insurance(?: coverage)?\b/,
];

function capValue(seg: Segment, text: string): string | null {
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

function clean(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

// ---------------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------------

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
