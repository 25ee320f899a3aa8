/** (b) A directory of KPI series CSVs, one per company and series. */
import fs from "node:fs/promises";
import path from "node:path";
import { toEpochMs, type RawPoint } from "../../agents/kpi-anomalies.js";
import type { PortfolioDataSource } from "../../agents/metrics-collector.js";
import { InputError } from "../../../../runtime/errors.js";
import { cachedParse, requireColumn } from "./csv.js";

function kpiSeries(file: string, rows: string[][]): RawPoint[] {
  const [header, ...data] = rows;
  if (!header) throw new InputError(`${file}: empty file`);
  const iT = requireColumn(file, header, "timestamp", "t", "date");
  const iV = requireColumn(file, header, "value");
  return data.map((row, n) => {
    const t = row[iT] ?? "";
    try {
      toEpochMs(t);
    } catch {
      throw new InputError(`${file}: line ${n + 2}: timestamp "${t}" is not an ISO 8601 date`);
    }
    return { t, value: row[iV] === "" ? NaN : Number(row[iV]) };
  });
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new InputError(`${dir}: cannot read directory (${code ?? String(e)})`);
  }
}

/**
 * KPI series as `<dir>/<TICKER>/<series>.csv` or `<dir>/<TICKER>-<series>.csv`, each of
 * `timestamp,value` rows. Knows no names or fundamentals.
 */
export function kpiDirectorySource({ dir }: { dir: string }): PortfolioDataSource {
  const root = path.resolve(dir);
  return {
    describe: () => `KPI directory ${root}`,
    company: async () => null,
    annual: async () => [],
    peerMedians: async () => ({}),
    async kpis(ticker) {
      const stat = await fs.stat(root).catch(() => null);
      if (!stat?.isDirectory()) throw new InputError(`${root}: no such directory`);
      const t = ticker.toUpperCase();
      const own = (await listDir(path.join(root, t)))
        .filter((f) => f.toLowerCase().endsWith(".csv"))
        .map((f) => ({ series: f.slice(0, -4), file: path.join(root, t, f) }));
      const flat = (await listDir(root))
        .filter((f) => f.toUpperCase().startsWith(`${t}-`) && f.toLowerCase().endsWith(".csv"))
        .map((f) => ({ series: f.slice(t.length + 1, -4), file: path.join(root, f) }));
      const out: Record<string, RawPoint[]> = {};
      for (const { series, file } of [...own, ...flat]) {
        if (!(series in out)) out[series] = await cachedParse(file, "KPI series", (rows) => kpiSeries(file, rows));
      }
      return out;
    },
  };
}
