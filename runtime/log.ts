import pino, { type Logger } from "pino";
import type { Config } from "./config.js";

export type { Logger } from "pino";

/**
 * The process's logger: JSON lines on stderr (stdout is the CLI's output), human-readable
 * through pino-pretty when stderr is a terminal. Secrets are redacted by path; contract text
 * is never passed to it.
 */
export function createLogger(level: Config["logLevel"], opts: { pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stderr.isTTY;
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: ["apiKey", "*.apiKey", "password", "*.password", "authorization", "*.authorization", "headers.authorization"], censor: "[redacted]" },
    },
    pretty ? pino.transport({ target: "pino-pretty", options: { destination: 2, colorize: true, ignore: "pid,hostname" } }) : pino.destination(2),
  );
}
