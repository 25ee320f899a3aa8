import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { readManifest, type DatasetFile } from "../cli/data.js";
import { dataset, describeWithData } from "../testing/datasets.js";
import { ROOT, runOpsgraph, type CliResult } from "./support/cli.js";

// `opsgraph data fetch` as a user runs it, against a local HTTP server serving a copy of the
// smallest suite's files (read from the shared datasets through testing/datasets.ts): no internet.

const manifest = readManifest();
const bytesOf = (name: string) => manifest.suites[name]!.files.reduce((n, f) => n + f.bytes, 0);
const SUITE = Object.keys(manifest.suites).sort((a, b) => bytesOf(a) - bytesOf(b))[0]!;
const FILES: DatasetFile[] = manifest.suites[SUITE]!.files;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** What the server serves, by URL path; `requests` counts every request. */
const served = new Map<string, Buffer>();
let requests = 0;
let server: http.Server;
let base = "";
const tmpDirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-data-"));
  tmpDirs.push(dir);
  return dir;
}

function serveCopy() {
  served.clear();
  for (const f of FILES) served.set(`/${f.path.split("/").map(encodeURIComponent).join("/")}`, fs.readFileSync(dataset(f.path)));
}

/** Every file under `dir`, relative, `/`-separated. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort();
}

const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
const fetchData = (args: string[], env: Record<string, string> = {}) => runOpsgraph(["data", "fetch", ...args], env);

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests++;
    const body = served.get(new URL(req.url ?? "/", "http://x").pathname);
    if (!body) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  serveCopy();
  requests = 0;
});

describeWithData(`opsgraph data fetch ${SUITE} (the smallest suite) from a local copy`, FILES[0]!.path, SUITE, () => {
  it("writes each file with the manifest's sha256; run again, it skips them all without a request", async () => {
    const dir = tempDir();
    const first = await fetchData([SUITE, "--from", base, "--dir", dir]);
    expect(first.code, show(first)).toBe(0);
    expect(filesUnder(dir)).toEqual(FILES.map((f) => f.path).sort());
    for (const f of FILES) expect(sha256(fs.readFileSync(path.join(dir, f.path))), f.path).toBe(f.sha256);
    expect(requests).toBe(FILES.length);
    // progress: one line per file on stderr, with its bytes
    for (const f of FILES) expect(first.stderr).toContain(`fetched ${f.path} (${f.bytes} bytes)`);

    // again, the dir given by OPSGRAPH_DATASETS this time (no --dir): every file is present and right
    requests = 0;
    const again = await fetchData([SUITE, "--from", base], { OPSGRAPH_DATASETS: dir });
    expect(again.code, show(again)).toBe(0);
    expect(requests).toBe(0);
    for (const f of FILES) expect(again.stderr).toContain(`skip ${f.path}`);
    expect(again.stdout).toContain(`0 fetched (0 bytes), ${FILES.length} already present`);
  });

  it("a served file with one byte changed: exit 1, a one-line error naming it, no file or temp file left", async () => {
    const bad = FILES[0]!;
    const key = `/${bad.path.split("/").map(encodeURIComponent).join("/")}`;
    const body = Buffer.from(served.get(key)!);
    const at = Math.floor(body.length / 2);
    body[at] = body[at]! ^ 0x01;
    served.set(key, body);

    const dir = tempDir();
    const r = await fetchData([SUITE, "--from", base, "--dir", dir]);
    expect(r.code, show(r)).toBe(1);
    // the first file is the bad one: nothing came before it, the error is the only line
    const lines = r.stderr.trim().split("\n");
    expect(lines, show(r)).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^opsgraph: data fetch: ${bad.path.replace(/[.]/g, "\\.")}: sha256 mismatch`));
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack
    expect(filesUnder(dir)).toEqual([]);
  });

  it("an unknown suite: exit 2, one line listing the suites", async () => {
    const dir = tempDir();
    const r = await fetchData(["no-such-suite", "--from", base, "--dir", dir]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`unknown suite "no-such-suite" (suites: ${Object.keys(manifest.suites).join(", ")})`);
    expect(requests).toBe(0);
  });

  it("a file with no public upstream and no --from: exit 2, one line saying so, nothing downloaded", async () => {
    const [suite, entry] = Object.entries(manifest.suites).find(([, s]) => s.files.some((f) => f.upstream === null))!;
    const dir = tempDir();
    const r = await fetchData([suite, "--dir", dir]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`${entry.files.find((f) => f.upstream === null)!.path}`);
    expect(r.stderr).toContain("no public upstream");
    expect(filesUnder(dir)).toEqual([]);
  });

  it("every file of every suite in the manifest has the recorded bytes and sha256 in the shared datasets", () => {
    for (const s of Object.values(manifest.suites)) {
      for (const f of s.files) {
        const b = fs.readFileSync(dataset(f.path));
        expect([b.length, sha256(b)], f.path).toEqual([f.bytes, f.sha256]);
      }
    }
  });

  it("the manifest never lists the CUAD holdout split", () => {
    for (const s of Object.values(manifest.suites)) for (const f of s.files) expect(f.path).not.toMatch(/(^|\/)holdout(\/|$)/);
  });
  it("npm run eval with a suite's data missing: one line saying how to get it, exit 2, before any suite runs", () => {
    const dir = tempDir();
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "evals", "run.ts"), "--suite", "sourcing/backtest", "--out", dir], {
      cwd: ROOT,
      env: { ...process.env, OPSGRAPH_DATASETS: path.join(dir, "none") },
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(2);
    expect(
      r.stderr
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("eval:")),
    ).toEqual([
      `eval: sourcing/backtest: no data at ${path.join(dir, "none", "sourcing", "yc-startups-2005-2014", "Startups.csv")} (set OPSGRAPH_DATASETS, or fetch it: npx opsgraph data fetch sourcing)`,
    ]);
    expect(filesUnder(dir)).toEqual([]);
  });
});
