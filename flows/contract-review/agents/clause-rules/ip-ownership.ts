/** Intellectual property family: Ip Ownership Assignment. */
import type { RuleTable } from "./types.js";

const IP_NOUNS =
  /\b(?:intellectual property|inventions?|copyrights?|patents?|trademarks?|trade marks?|work product|works?|deliverables|developments?|improvements?|know-how|iprs?|ip|right,? title and interest|rights,? title and interests?|interest therein|derivative works?|technology|results|materials|modifications|enhancements)\b/;

const STRONG_IP_NOUNS =
  /\b(?:intellectual property|inventions?|copyrights?|patents?|work product|deliverables|developments|improvements|iprs?|right,? title and interest|derivative works?|works? of authorship|know-how)\b/;

/** Wording of a contract assignment (Anti-Assignment), not an IP transfer. */
const ASSIGNS_THE_CONTRACT =
  /\bassign\w*\s+(?:\w+\s+){0,3}(?:this agreement|its rights (?:or|and) obligations|rights and obligations|rights or obligations|any of its rights|(?:this|the) (?:contract|license|licence))\b/;

const CREATION_CUE =
  /\b(?:created|develop(?:ed|s)|conceived|made|generated|produced|prepared|authored|arising|resulting|derived|discover\w*|reduced to practice|in the course of|under this agreement|hereunder|pursuant to this agreement)\b/;

export const IP_OWNERSHIP_RULES = {
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
        all: [
          /\b(?:assigns?|transfers?|conveys?)\s+(?:to\s+[\w'&.,-]+(?:\s+[\w'&.,-]+){0,3}\s+)?all (?:of (?:its|their|his|her) )?(?:rights?,? title,? and interests?|rights? and title)\b/,
        ],
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
        none: [
          /\bremain\b/,
          /\bconfidential information\b/,
          /\bretain\w*\b/,
          /\bpre-?existing\b/,
          /\b(?:owned|controlled) by (?:the )?\w+ (?:prior to|before|as of)\b/,
        ],
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
} satisfies RuleTable;
