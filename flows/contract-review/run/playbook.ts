import fs from "node:fs/promises";
import YAML from "yaml";
import { Playbook } from "../agents/playbook.js";
import { InputError } from "../../../runtime/errors.js";

/** Reads a playbook file (YAML or JSON); a bad one is an InputError naming the file and the field. */
export async function readPlaybook(file: string): Promise<Playbook> {
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: ${code === "ENOENT" ? "no such file" : `cannot read playbook (${code ?? String(e)})`}`);
  }
  let data: unknown;
  try {
    data = YAML.parse(raw);
  } catch (e) {
    throw new InputError(`${file}: not valid YAML or JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const parsed = Playbook.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`${file}: ${issue.path.join(".") || "playbook"}: ${issue.message}`);
  }
  return parsed.data;
}
