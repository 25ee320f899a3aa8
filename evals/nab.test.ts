import { describe, it, expect, beforeAll } from "vitest";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../runtime/errors.js";
import { evaluateNab, formatNab, loadNab, scoreSeries } from "./nab.js";
import { dataset, describeWithData } from "../testing/datasets.js";

const REAL_NAB = dataset("portfolio/nab-kpi-anomalies");
const ms = (iso: string) => Date.parse(`${iso}Z`);

/** NAB-style CSV: hourly points for `days` days from 2024-01-01, `level` except on the `spikes` day indexes (value 50). */
function csv(days: number, spikes: number[], level = 10): string {
  const rows = ["timestamp,value"];
  for (let d = 0; d < days; d++) {
    for (let h = 0; h < 24; h++) {
      const t = new Date(Date.UTC(2024, 0, 1 + d, h)).toISOString().replace("T", " ").slice(0, 19);
      rows.push(`${t},${spikes.includes(d) ? 50 : level}`);
    }
  }
  return `${rows.join("\n")}\n`;
}

describe("scoreSeries", () => {
  it("counts each window once, and only flags outside every window as false positives", () => {
    const windows: [number, number][] = [
      [ms("2024-01-10T18:00:00"), ms("2024-01-11T06:00:00")],
      [ms("2024-01-20T00:00:00"), ms("2024-01-21T00:00:00")],
    ];
    const flags = [ms("2024-01-10T00:00:00"), ms("2024-01-11T00:00:00"), ms("2024-01-15T00:00:00")];
    // Day 10 overlaps the first window from 18:00, day 11 until 06:00: two flags, one hit.
    expect(scoreSeries(flags, windows, "day")).toEqual({ windows: 2, flags: 3, flags_in_windows: 2, hits: 1, false_positives: 1 });
  });

  it("treats a period as ending where the next begins", () => {
    const windows: [number, number][] = [[ms("2024-01-11T00:00:00"), ms("2024-01-12T00:00:00")]];
    expect(scoreSeries([ms("2024-01-10T00:00:00")], windows, "day")).toMatchObject({ hits: 0, false_positives: 1 });
    expect(scoreSeries([ms("2024-01-10T23:00:00")], windows, "hour")).toMatchObject({ hits: 0, false_positives: 1 });
    expect(scoreSeries([ms("2024-01-12T00:00:00")], windows, "day")).toMatchObject({ hits: 1, false_positives: 0 });
  });
});

describe("evaluateNab on a synthetic dataset", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "nab-"));
    await mkdir(join(dir, "data", "famA"), { recursive: true });
    await mkdir(join(dir, "data", "famB"), { recursive: true });
    await mkdir(join(dir, "labels"));
    await writeFile(join(dir, "data", "famA", "hit_and_miss.csv"), csv(20, [10]));
    await writeFile(join(dir, "data", "famA", "false_alarm.csv"), csv(20, [12]));
    await writeFile(join(dir, "data", "famB", "twice.csv"), csv(20, [8, 13]));
    const labels = {
      // The spike on Jan 11 (day index 10) overlaps the first window from 18:00; nothing on Jan 16.
      "famA/hit_and_miss.csv": [
        ["2024-01-11 18:00:00.000000", "2024-01-12 06:00:00.000000"],
        ["2024-01-16 00:00:00.000000", "2024-01-16 12:00:00.000000"],
      ],
      "famA/false_alarm.csv": [],
      // Two separate spikes (Jan 9 and 14) in one window: one hit, two flags inside.
      "famB/twice.csv": [["2024-01-08 00:00:00.000000", "2024-01-15 00:00:00.000000"]],
      "artificialNoAnomaly/not_copied.csv": [],
    };
    await writeFile(join(dir, "labels", "combined_windows.json"), JSON.stringify(labels));
  });

  it("loads every labelled CSV, ignoring label keys without a file, with windows in UTC", async () => {
    const series = await loadNab(dir);
    expect(series.map((s) => s.key)).toEqual(["famA/false_alarm.csv", "famA/hit_and_miss.csv", "famB/twice.csv"]);
    expect(series[1]?.points).toHaveLength(20 * 24);
    expect(series[1]?.windows[0]).toEqual([ms("2024-01-11T18:00:00"), ms("2024-01-12T06:00:00")]);
  });

  it("scores hits, false positives, precision and recall exactly, overall and per family", async () => {
    const r = await evaluateNab(dir, { period: "day" });
    expect(r).toMatchObject({ period: "day", series: 3, windows: 3, flags: 4, flags_in_windows: 3, hits: 2, false_positives: 1 });
    expect(r.precision).toBeCloseTo(2 / 3, 10);
    expect(r.recall).toBeCloseTo(2 / 3, 10);
    expect(r.f1).toBeCloseTo(2 / 3, 10);
    expect(r.per_family.famA).toMatchObject({ series: 2, windows: 2, flags: 2, hits: 1, false_positives: 1, precision: 0.5, recall: 0.5 });
    expect(r.per_family.famB).toMatchObject({ series: 1, windows: 1, flags: 2, hits: 1, false_positives: 0, precision: 1, recall: 1 });
    expect(r.precision_definition).toContain("windows hit / (windows hit + flags outside every window)");
  });

  it("formats one row per family and a total", async () => {
    const text = formatNab(await evaluateNab(dir, { period: "day" }));
    expect(text).toMatch(/^NAB, resampled per day: window 28/);
    expect(text).toMatch(/famA\s+2\s+2\s+2\s+1\s+1\s+50\.0%\s+50\.0%\s+50\.0%/);
    expect(text).toMatch(/all\s+3\s+3\s+4\s+2\s+1\s+66\.7%\s+66\.7%\s+66\.7%/);
  });

  it("rejects a missing folder and a CSV without labels with an InputError", async () => {
    await expect(evaluateNab(join(dir, "nope"), { period: "day" })).rejects.toThrow(InputError);
    await writeFile(join(dir, "data", "famB", "unlabelled.csv"), csv(2, []));
    await expect(loadNab(dir)).rejects.toThrow(/no entry for famB\/unlabelled\.csv/);
  });
});

describeWithData("evaluateNab on the shared NAB dataset", "portfolio/nab-kpi-anomalies", "portfolio-monitoring", () => {
  it("covers the 47 real series and their 110 windows, in a few seconds", async () => {
    const t0 = performance.now();
    const r = await evaluateNab(REAL_NAB, { period: "day" });
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(r.series).toBe(47);
    expect(r.windows).toBe(110);
    expect(Object.fromEntries(Object.entries(r.per_family).map(([f, c]) => [f, [c.series, c.windows]]))).toEqual({
      realAWSCloudwatch: [17, 30],
      realAdExchange: [6, 14],
      realKnownCause: [7, 19],
      realTraffic: [7, 14],
      realTweets: [10, 33],
    });
    expect(r.hits + r.false_positives).toBeGreaterThan(0);
  });
});
