/** What the format readers share: the text-length limit and one-line error messages. */
export const MAX_CONTRACT_CHARS = 300_000;

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Collapse a library's error message to one short line. */
export function oneLine(message: string): string {
  const line = message.replace(/\s+/g, " ").trim().replace(/\.$/, "");
  const short = line.length > 160 ? `${line.slice(0, 157)}...` : line;
  return short === "" ? "unknown error" : short;
}
