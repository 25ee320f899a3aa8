/** Competition family: Non-Compete and Exclusivity. */
import type { RuleTable } from "./types.js";

export const COMPETITION_RULES = {
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
        all: [
          /\b(?:all|100%|entire|one hundred percent)\s+(?:\(\d+%\)\s+)?(?:of\s+)?(?:its|their|the|his|buyer's|customer's|company's)\s+(?:[\w-]+\s+){0,3}?requirements\b/,
        ],
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
} satisfies RuleTable;
