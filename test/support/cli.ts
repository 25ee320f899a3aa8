import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `opsgraph <args>` as a user would, in a process of its own, with only the settings
 * given: none of opsgraph's, OpenAI's or LangSmith's variables come from the caller.
 */
export function runOpsgraph(args: string[], env: Record<string, string>, timeoutMs = 50_000): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(OPSGRAPH_|OPENAI_|LANGSMITH_|LANGCHAIN_)/.test(k) || k === "DATABASE_URL" || k === "LOG_LEVEL") continue;
    childEnv[k] = v;
  }
  Object.assign(childEnv, env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), ...args], {
      cwd: ROOT,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A DATABASE_URL for a pool's database (tests' fresh databases). */
export function databaseUrl(pool: pg.Pool): string {
  const o = pool.options;
  if (o.connectionString) return o.connectionString;
  const auth = o.user ? `${encodeURIComponent(o.user)}${o.password ? `:${encodeURIComponent(String(o.password))}` : ""}@` : "";
  return `postgres://${auth}${o.host ?? "127.0.0.1"}:${o.port ?? 5432}/${o.database}`;
}
