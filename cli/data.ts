import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { Command } from "commander";
import { InputError } from "../runtime/errors.js";
import { datasetsDir } from "../runtime/config.js";

/** The committed manifest: per suite, each file it reads under the datasets dir, its upstream and sha256. */
export const MANIFEST = path.resolve(import.meta.dirname, "..", "evals", "datasets.json");

export interface DatasetFile {
  /** Relative to the datasets dir, `/`-separated. */
  path: string;
  bytes: number;
  sha256: string;
  /** A pinned public URL, or null: built in the workplace, fetchable only with --from. */
  upstream: string | null;
  note?: string;
}
export interface DatasetManifest {
  suites: Record<string, { description: string; files: DatasetFile[] }>;
}

/** A download whose content is not what the manifest records: exit 1 (not bad input: the source is wrong). */
export class ChecksumError extends Error {
  override name = "ChecksumError";
}

export function readManifest(file = MANIFEST): DatasetManifest {
  const m = JSON.parse(fs.readFileSync(file, "utf8")) as DatasetManifest;
  for (const [suite, s] of Object.entries(m.suites)) {
    for (const f of s.files) {
      // a manifest path stays inside the datasets dir
      if (path.isAbsolute(f.path) || f.path.split("/").some((seg) => seg === ".." || seg === ""))
        throw new Error(`${file}: ${suite}: unsafe path ${JSON.stringify(f.path)}`);
      if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw new Error(`${file}: ${suite}: ${f.path}: bad sha256`);
    }
  }
  return m;
}

/** `--dir`, else where the evaluations look for their data (runtime/config.ts datasetsDir). */
export function targetDir(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return dir ? path.resolve(dir) : datasetsDir(env);
}

async function sha256Of(file: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    await pipeline(fs.createReadStream(file), hash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return hash.digest("hex");
}

/** `<base>/<path>` with each segment URL-encoded. */
function fromUrl(base: string, rel: string): string {
  return `${base.replace(/\/+$/, "")}/${rel.split("/").map(encodeURIComponent).join("/")}`;
}

function parseBase(from: string): string {
  let u: URL;
  try {
    u = new URL(from);
  } catch {
    throw new InputError(`data fetch: --from ${JSON.stringify(from)} is not a URL (give a base such as http://host:port/datasets)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new InputError(`data fetch: --from ${from}: only http and https URLs are supported`);
  return from;
}

/**
 * Streams `url` to a temp file beside `target`, hashing as it goes; renames it into place only
 * when the sha256 is the manifest's. On any failure the temp file is removed: nothing half-written.
 */
async function download(f: DatasetFile, url: string, target: string): Promise<number> {
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.part`);
  let kept = false;
  try {
    let res: Response;
    try {
      res = await fetch(url, { redirect: "follow" });
    } catch (e) {
      throw new Error(`data fetch: ${f.path}: cannot download ${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    if (!res.ok || !res.body) throw new Error(`data fetch: ${f.path}: HTTP ${res.status} from ${url}`);
    const hash = createHash("sha256");
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, fs.createWriteStream(temp, { flags: "wx" }));
    const got = hash.digest("hex");
    if (got !== f.sha256)
      throw new ChecksumError(`data fetch: ${f.path}: sha256 mismatch (got ${got}, manifest ${f.sha256}, ${bytes} bytes from ${url}): not kept`);
    await fs.promises.rename(temp, target);
    kept = true;
    return bytes;
  } finally {
    if (!kept) await fs.promises.rm(temp, { force: true });
  }
}

export interface FetchOptions {
  dir: string;
  from?: string;
  log?: (line: string) => void;
  manifest?: DatasetManifest;
}

/** Fetches a suite's files into `dir`: the ones already there with the right sha256 are skipped. */
export async function fetchSuite(suite: string, o: FetchOptions): Promise<{ fetched: number; skipped: number; bytes: number }> {
  const manifest = o.manifest ?? readManifest();
  const log = o.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const entry = Object.hasOwn(manifest.suites, suite) ? manifest.suites[suite] : undefined;
  if (!entry) throw new InputError(`data fetch: unknown suite ${JSON.stringify(suite)} (suites: ${Object.keys(manifest.suites).join(", ")})`);
  const base = o.from === undefined ? undefined : parseBase(o.from);

  // first what is missing, and whether each missing file has a source: fail before downloading anything
  const todo: { f: DatasetFile; target: string; url: string }[] = [];
  const noSource: DatasetFile[] = [];
  let skipped = 0;
  for (const f of entry.files) {
    const target = path.join(o.dir, ...f.path.split("/"));
    if ((await sha256Of(target)) === f.sha256) {
      skipped++;
      log(`skip ${f.path} (${f.bytes} bytes, sha256 ok)`);
      continue;
    }
    const url = base ? fromUrl(base, f.path) : f.upstream;
    if (url) todo.push({ f, target, url });
    else noSource.push(f);
  }
  if (noSource.length) {
    const more = noSource.length > 1 ? ` (and ${noSource.length - 1} more)` : "";
    throw new InputError(`data fetch: ${noSource[0]!.path}${more} has no public upstream (built in the workplace): fetch it with --from <base URL>`);
  }

  let bytes = 0;
  for (const { f, target, url } of todo) {
    const n = await download(f, url, target);
    bytes += n;
    log(`fetched ${f.path} (${n} bytes)`);
  }
  return { fetched: todo.length, skipped, bytes };
}

/** `opsgraph data fetch <suite> [--dir DIR] [--from URL]`. */
export function addDataCommands(program: Command) {
  const data = program.command("data").description("The public data sets the evaluation suites read (manifest: evals/datasets.json)");
  data
    .command("fetch")
    .description(
      "Download each file a suite needs from its pinned upstream (or --from), check its sha256 against evals/datasets.json, and move it into place; files already present with the right sha256 are skipped. Exit 1 on a bad checksum or a failed download, 2 on an unknown suite or a file with no source",
    )
    .argument("<suite>", "the suite whose data to fetch: contract-review, portfolio-monitoring or sourcing (see evals/datasets.json)")
    .option("--dir <dir>", "the datasets dir to fill (default: OPSGRAPH_DATASETS, else ../shared/datasets when it exists, else .opsgraph/datasets)")
    .option(
      "--from <url>",
      "a base URL serving a copy of the datasets dir: each file is fetched from <url>/<path> instead of its upstream (needed for files with no public upstream)",
    )
    .action(async (suite: string, opts: { dir?: string; from?: string }) => {
      const dir = targetDir(opts.dir);
      const r = await fetchSuite(suite, { dir, from: opts.from });
      process.stdout.write(`${suite}: ${r.fetched} fetched (${r.bytes} bytes), ${r.skipped} already present, in ${dir}\n`);
    });
}
