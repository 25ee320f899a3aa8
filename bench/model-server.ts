import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The scripted model server, in a child process (bench/model-server-main.ts). */
export interface ModelServer {
  /** `http://127.0.0.1:PORT/v1`: the OpenAI base URL. */
  url: string;
  pid: number;
  /** Every agent answers after this many ms (0: at once). */
  setLatency(ms: number): Promise<void>;
  /** Chat requests since the last call, by agent (and forgets them). */
  takeRequests(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function startModelServer(latencyMs = 0): Promise<ModelServer> {
  const child: ChildProcess = fork(fileURLToPath(new URL("./model-server-main.ts", import.meta.url)), [String(latencyMs)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const next = <T>(): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`bench model server exited (code ${code})`));
      child.once("exit", onExit);
      child.once("message", (m) => {
        child.off("exit", onExit);
        resolve(m as T);
      });
    });
  const { url } = await next<{ url: string }>();
  return {
    url,
    pid: child.pid!,
    async setLatency(ms) {
      const answered = next<{ ok: boolean }>();
      child.send({ latency: ms });
      await answered;
    },
    async takeRequests() {
      const answered = next<{ requests: Record<string, number> }>();
      child.send({ count: true });
      return (await answered).requests;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.disconnect();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}
