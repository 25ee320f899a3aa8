/** Assignment and control family: Change Of Control and Anti-Assignment. */
import type { RuleTable } from "./types.js";

/** Consequences that make a change of control matter: termination, consent, notice, assignment. */
const CONTROL_CONSEQUENCE =
  /\b(?:terminat\w*\s+(?:this|the)\s+(?:agreement|contract|term|license)|(?:may|right to|entitled to|option to|elect to)\s+(?:\w+\s+){0,3}terminat\w*|shall (?:automatically |immediately )?terminate|(?:is|are|be|been) terminated|consent|approval|assign\w*|transfer\w*|notif\w*|notice)\b/;

/** "Either party may assign this Agreement ... (to a successor / upon a merger)". */
const PERMISSIVE_ASSIGNMENT =
  /(?<!not )\b(?:may|can|shall (?:have the right|be (?:permitted|entitled|free)) to|is (?:permitted|entitled|free) to)\s+(?:\w+\s+){0,4}?(?:assign|transfer|novate)\b/;

export const ASSIGNMENT_AND_CONTROL_RULES = {
  "Change Of Control": {
    any: ["control", "merger", "merges", "consolidat", "acqui", "substantially all", "ownership", "reorganiz", "voting"],
    rules: [
      {
        all: [/\bchange (?:of|in) (?:the\s+)?(?:\w+\s+)?(?:control|ownership)\b|\bchange-of-control\b|\bownership change\b/, CONTROL_CONSEQUENCE],
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
        none: [
          /\bhereby (?:irrevocably )?assigns?\b/,
          /\bnon-?transferable (?:licen|right)/,
          /\bintellectual property rights?\b.{0,60}\bnot\b.{0,40}\btransfer/,
        ],
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
} satisfies RuleTable;
