import { describe, it, expect } from "vitest";
import type { KpiPoint } from "./company.js";
import { detectAnomalies, resample, toEpochMs } from "./kpi-anomalies.js";

const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1); // a Monday

/** Daily points from `values`, starting 2024-01-01. */
function daily(values: number[]): KpiPoint[] {
  return values.map((value, i) => ({ t: new Date(START + i * DAY).toISOString(), value }));
}

/** Deterministic noise in [-1, 1] (an LCG), so the tests never flake. */
function noise(n: number, seed = 7): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return (x / 2 ** 31) * 2 - 1;
  });
}

describe("toEpochMs", () => {
  it("reads a timestamp without an offset as UTC, and honours an explicit offset", () => {
    expect(toEpochMs("2014-02-26 13:45:00.000000")).toBe(Date.UTC(2014, 1, 26, 13, 45));
    expect(toEpochMs("2014-02-26T13:45:00+02:00")).toBe(Date.UTC(2014, 1, 26, 11, 45));
    expect(toEpochMs("2014-02-26")).toBe(Date.UTC(2014, 1, 26));
    expect(() => toEpochMs("26/02/2014")).toThrow(RangeError);
  });
});

describe("resample", () => {
  const raw = [
    { t: "2024-01-03 10:15:00", value: 4 },
    { t: "2024-01-01 09:00:00", value: 1 },
    { t: "2024-01-01 09:30:00", value: 3 },
    { t: Date.UTC(2024, 0, 1, 23, 59), value: 8 },
    { t: "2024-02-10T00:00:00Z", value: 10 },
    { t: "2024-01-02 00:00:00", value: Number.NaN },
  ];

  it("averages the points of each hour, oldest first, leaving out empty hours and non-finite values", () => {
    expect(resample(raw, "hour")).toEqual([
      { t: "2024-01-01T09:00:00.000Z", value: 2 },
      { t: "2024-01-01T23:00:00.000Z", value: 8 },
      { t: "2024-01-03T10:00:00.000Z", value: 4 },
      { t: "2024-02-10T00:00:00.000Z", value: 10 },
    ]);
  });

  it("groups by UTC day, by week starting on Monday and by month", () => {
    expect(resample(raw, "day").map((p) => [p.t.slice(0, 10), p.value])).toEqual([
      ["2024-01-01", 4],
      ["2024-01-03", 4],
      ["2024-02-10", 10],
    ]);
    // 2024-02-10 is a Saturday: its week starts on Monday 2024-02-05.
    expect(resample(raw, "week").map((p) => [p.t.slice(0, 10), p.value])).toEqual([
      ["2024-01-01", 4],
      ["2024-02-05", 10],
    ]);
    expect(resample(raw, "month").map((p) => [p.t.slice(0, 10), p.value])).toEqual([
      ["2024-01-01", 4],
      ["2024-02-01", 10],
    ]);
  });
});

describe("detectAnomalies", () => {
  it("flags a spike in a flat series, with its baseline and change", () => {
    const values = Array<number>(30).fill(100);
    values[20] = 150;
    const flags = detectAnomalies(daily(values));
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({ t: daily(values)[20]?.t, value: 150, baseline: 100, change_pct: 50 });
    expect(flags[0]?.score).toBeGreaterThan(3.5);
  });

  it("flags a spike in a noisy series and nothing else", () => {
    const values = noise(60).map((e) => 100 + 5 * e);
    values[40] = 140;
    const flags = detectAnomalies(daily(values));
    expect(flags.map((f) => f.t)).toEqual([daily(values)[40]?.t]);
    expect(flags[0]?.change_pct).toBeGreaterThan(30);
  });

  it("flags nothing in a level series or in plain noise", () => {
    expect(detectAnomalies(daily(Array<number>(60).fill(42)))).toEqual([]);
    expect(detectAnomalies(daily(noise(60).map((e) => 100 + 5 * e)))).toEqual([]);
  });

  it("judges nothing before the warm-up", () => {
    const values = Array<number>(30).fill(100);
    values[3] = 500;
    expect(detectAnomalies(daily(values), { warmup: 5 })).toEqual([]);
    expect(detectAnomalies(daily(values), { warmup: 3 }).map((f) => f.value)).toEqual([500]);
  });

  it("never lets later points change an earlier verdict (no lookahead)", () => {
    const values = noise(80, 3).map((e) => 100 + 5 * e);
    values[30] = 160;
    values[45] = 40;
    values[60] = 175;
    const points = daily(values);
    const full = detectAnomalies(points);
    expect(full.length).toBeGreaterThanOrEqual(3);
    for (let n = 1; n <= points.length; n++) {
      const cutoff = points[n - 1]?.t ?? "";
      expect(detectAnomalies(points.slice(0, n))).toEqual(full.filter((f) => f.t <= cutoff));
    }
  });

  it("gives one flag per incident: repeats within the cooldown are suppressed", () => {
    const values = Array<number>(40).fill(100);
    for (const i of [20, 21, 22]) values[i] = 200;
    expect(detectAnomalies(daily(values), { cooldown: 3 }).map((f) => f.t)).toEqual([daily(values)[20]?.t]);
    expect(detectAnomalies(daily(values), { cooldown: 0 })).toHaveLength(3);
  });

  it("with a season, expects a recurring peak instead of flagging it", () => {
    // Hourly values with a daily peak at noon, for five days.
    const values = Array.from({ length: 24 * 5 }, (_, h) => (h % 24 === 12 ? 300 : 100) + noise(1, h + 1)[0]!);
    const points = values.map((value, h) => ({ t: new Date(START + h * 3_600_000).toISOString(), value }));
    const seasonal = { window: 48, warmup: 24, season: 24, seasons: 2 };
    expect(detectAnomalies(points, { window: 48, warmup: 24 }).length).toBeGreaterThan(0);
    expect(detectAnomalies(points, seasonal)).toEqual([]);
    values[24 * 4 + 12] = 100; // the last day's peak does not come
    const missed = detectAnomalies(
      values.map((value, h) => ({ t: points[h]!.t, value })),
      seasonal,
    );
    expect(missed.map((f) => f.t)).toEqual([points[24 * 4 + 12]?.t]);
    expect(missed[0]?.change_pct).toBeLessThan(-60);
  });
});
