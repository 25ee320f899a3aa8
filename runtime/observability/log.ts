import { createHash } from "node:crypto";
import pino, { type DestinationStream, type Logger } from "pino";
import type { Config } from "../config.js";

export type { Logger } from "pino";

/** Keys whose values are secrets: never logged, whatever their shape. */
const SECRET_KEY =
  /^(x-)?api[-_]?key$|apikey|authorization|password|passwd|secret|cookie|^(access|refresh|id|bearer)[-_]?token$|^token$|connection[-_]?string/i;
/** Keys whose values are a contract's or a company's text: logged as a length and a hash. */
const TEXT_KEY =
  /^(text|contract|contract_text|document|content|body|excerpts?|prompt|system|user|messages|input_text|company_text|description|filing|notes?)$/i;
/** A string this long is somebody's text, whatever its key (an error stack is shorter). */
const LONG_TEXT = 4000;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]+@/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;
/** OpenAI-style and LangSmith keys found inside free text (an error message quoting a header). */
const KEY_LIKE = /\b(sk|lsv2|pk)[-_][A-Za-z0-9_-]{8,}/g;

/** What stands for a text: enough to tell two texts apart, nothing of their content. */
export function textFingerprint(s: string): { length: number; sha256: string } {
  return { length: s.length, sha256: createHash("sha256").update(s).digest("hex").slice(0, 16) };
}

/** A string with any password of a URL, bearer token or API key inside it masked. */
export function scrubString(s: string): string {
  return s.replace(URL_PASSWORD, "$1***@").replace(BEARER, "$1 [redacted]").replace(KEY_LIKE, "$1-[redacted]");
}

/**
 * A copy of a log object that is safe to write: secrets by key are "[redacted]", texts by key
 * (or by length) are their length and hash, and strings have URL passwords, bearer tokens and
 * API keys masked. Errors become { type, message, stack }, scrubbed the same way.
 */
export function redactForLog(value: unknown, key = "", depth = 0): unknown {
  if (key && SECRET_KEY.test(key)) return value === undefined || value === null ? value : "[redacted]";
  if (typeof value === "string") {
    if ((key && TEXT_KEY.test(key)) || value.length > LONG_TEXT) return textFingerprint(value);
    return scrubString(value);
  }
  if (value === null || typeof value !== "object") return value;
  if (depth > 8) return "[too deep]";
  if (value instanceof Error) {
    // a scrubbed copy that pino's error serializer still prints as an error
    const e = value as Error & { code?: unknown; status?: unknown };
    const safe = Object.assign(
      new Error(scrubString(e.message)),
      e.code !== undefined ? { code: e.code } : {},
      e.status !== undefined ? { status: e.status } : {},
    );
    safe.name = e.name;
    safe.stack = e.stack === undefined ? undefined : scrubString(e.stack);
    return safe;
  }
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((v) => redactForLog(v, key && TEXT_KEY.test(key) ? key : "", depth + 1));
  if (value instanceof Map) return redactForLog(Object.fromEntries(value), key, depth);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactForLog(v, k, depth + 1);
  return out;
}

/**
 * The process's logger: JSON lines on stderr (stdout is the CLI's output), human-readable
 * through pino-pretty when stderr is a terminal. Every logged object, child binding and
 * message goes through redactForLog, so a secret or a contract passed by mistake never
 * reaches the output. `destination`: where lines go instead of stderr (tests).
 */
export function createLogger(level: Config["logLevel"], opts: { pretty?: boolean; destination?: DestinationStream } = {}): Logger {
  const pretty = opts.pretty ?? (opts.destination ? false : process.stderr.isTTY);
  const logger = pino(
    {
      level,
      base: undefined,
      formatters: {
        log: (obj) => redactForLog(obj) as Record<string, unknown>,
        bindings: (b) => redactForLog(b) as Record<string, unknown>,
      },
      hooks: {
        // the message (and any format arguments) of log.info(obj, msg, ...args)
        logMethod(args: unknown[], method) {
          const safe = args.map((a) => (typeof a === "string" ? scrubString(a) : a));
          return method.apply(this, safe as Parameters<typeof method>);
        },
      },
    },
    opts.destination ??
      (pretty ? pino.transport({ target: "pino-pretty", options: { destination: 2, colorize: true, ignore: "pid,hostname" } }) : pino.destination(2)),
  );
  // pino formats only the root's bindings; a child's (log.child({ ... })) are redacted here.
  // Children inherit this method from the root (pino children are Object.create(parent)).
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactForLog(bindings) as typeof bindings, options);
  } as typeof logger.child;
  return logger;
}
