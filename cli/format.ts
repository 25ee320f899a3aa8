import { InvalidArgumentError } from "commander";

/** A commander option parser: a whole number of at least 1. */
export const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return n;
};

/** Rows as aligned columns, the first row the header. */
export function table(rows: string[][], indent = ""): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map(
      (r) =>
        indent +
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
    )
    .join("\n");
}
