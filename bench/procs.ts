// CPU and memory of this machine's processes, from /proc (Linux): where the time of a
// measurement went (the workers, PostgreSQL, the model server, this process) and how busy the
// machine was.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const TICK = 100; // USER_HZ: clock ticks a second in /proc, 100 on Linux

function statFields(pid: number): string[] | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process (user + system), with its reaped children's when `children`. */
export function processCpuSeconds(pid: number, children = false): number {
  const f = statFields(pid);
  if (!f) return 0;
  // after the comm: [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime
  const own = Number(f[11]) + Number(f[12]);
  return (children ? own + Number(f[13]) + Number(f[14]) : own) / TICK;
}

/**
 * CPU seconds of the embedded PostgreSQL: the postmaster with its reaped children (backends
 * that exited) plus the children alive now. Undefined when it is not embedded here (or no /proc).
 */
export function postgresCpuSeconds(dataDir: string): number | undefined {
  let postmaster: number;
  try {
    postmaster = Number(fs.readFileSync(path.join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return undefined;
  }
  if (!statFields(postmaster)) return undefined;
  let total = processCpuSeconds(postmaster, true);
  for (const name of fs.readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const f = statFields(pid);
    if (f && Number(f[1]) === postmaster) total += processCpuSeconds(pid);
  }
  return total;
}

/** CPU seconds of the whole machine so far (all cores): busy, total, and busy in the kernel (system, irq, softirq). */
export function machineCpuSeconds(): { busy: number; total: number; kernel: number } | undefined {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    // user nice system idle iowait irq softirq steal
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = v[3]! + v[4]!;
    return { busy: (total - idle) / TICK, total: total / TICK, kernel: (v[2]! + v[5]! + v[6]!) / TICK };
  } catch {
    return undefined;
  }
}

/** Resident set size (and its high-water mark) of a process, in bytes. */
export function rss(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

export const cores = () => os.availableParallelism();

/**
 * How busy the machine was during a measurement, and how much of that was not the bench's own
 * processes (this process, `pids`, the embedded PostgreSQL): other load skews the figures.
 */
export function startLoadMeter(dataDir: string, pids: () => number[]) {
  const m0 = machineCpuSeconds();
  const p0 = new Map(pids().map((p) => [p, processCpuSeconds(p)]));
  const pg0 = postgresCpuSeconds(dataDir) ?? 0;
  const self0 = process.cpuUsage();
  return (): { busyShare: number; otherShare: number } | undefined => {
    const m1 = machineCpuSeconds();
    if (!m0 || !m1) return undefined;
    const total = m1.total - m0.total;
    let own = (postgresCpuSeconds(dataDir) ?? 0) - pg0;
    for (const p of pids()) own += processCpuSeconds(p) - (p0.get(p) ?? 0);
    const self = process.cpuUsage(self0);
    own += (self.user + self.system) / 1e6;
    const busy = m1.busy - m0.busy;
    return { busyShare: busy / total, otherShare: Math.max(0, busy - own) / total };
  };
}
