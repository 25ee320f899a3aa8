/**
 * Governing Law: the rules, and the jurisdiction list its value is read from.
 */
import type { RuleTable } from "./types.js";

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
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "Wisconsin",
    "Wyoming",
    "Ontario",
    "Quebec",
    "Alberta",
    "Manitoba",
    "Saskatchewan",
    "England",
    "Scotland",
    "Ireland",
    "Singapore",
    "China",
    "Japan",
    "Germany",
    "France",
    "Switzerland",
    "Netherlands",
    "Israel",
    "India",
    "Australia",
    "Canada",
    "Sweden",
    "Korea",
    "Taiwan",
    "Bermuda",
    "Luxembourg",
    "Italy",
    "Spain",
    "Brazil",
    "Mexico",
    "Denmark",
    "Norway",
    "Finland",
    "Belgium",
    "Austria",
    "Cyprus",
    "Malaysia",
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

export function findJurisdiction(norm: string): string | null {
  const a = LAWS_OF_JUR.exec(norm);
  const b = JUR_LAW.exec(norm);
  const pick = a && b ? (a.index <= b.index ? a : b) : (a ?? b);
  if (!pick) return null;
  const key = pick[1] ?? "";
  let name = JUR_NAME.get(key) ?? ADJ_NAME.get(key) ?? null;
  if (name === "China") name = "People's Republic of China";
  return name;
}

const GOVERN_VERB = /\b(?:governed|construed|interpreted|enforced|governs|govern|construction|interpretation|subject to|determined|resolved|decided)\b/;

export const GOVERNING_LAW_RULES = {
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
} satisfies RuleTable;
