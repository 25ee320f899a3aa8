import { createHash } from "node:crypto";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { listContracts, MAX_CONTRACT_CHARS, readContract, SUPPORTED_EXTENSIONS } from "./documents.js";
import { InputError } from "../errors.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures");
const fixture = (name: string): string => join(FIXTURES, name);

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "documents-test-"));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Run `fn`, expect an InputError, check it is one line, and return its message. */
async function inputErrorOf(fn: () => Promise<unknown>): Promise<string> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InputError);
  const message = (caught as InputError).message;
  expect(message).not.toContain("\n");
  expect(message).not.toContain("\r");
  return message;
}

async function sha256Of(path: string): Promise<{ sha256: string; bytes: number }> {
  const data = await readFile(path);
  return { sha256: createHash("sha256").update(data).digest("hex"), bytes: data.length };
}

describe("readContract: supported formats", () => {
  it("reads a text-layer PDF, one line per text line", async () => {
    const path = fixture("contract.pdf");
    const doc = await readContract(path);
    expect(doc.format).toBe("pdf");
    expect(doc.source).toBe("contract.pdf");
    expect(doc.path).toBe(path);
    expect(doc.text).toContain("MUTUAL NONDISCLOSURE AGREEMENT");
    expect(doc.text).toContain("3. Governing Law. The laws of the State of Delaware govern this Agreement.");
    expect(doc.text.split("\n")).toEqual([
      "MUTUAL NONDISCLOSURE AGREEMENT",
      "1. Parties. Fixture Corp and Sample LLC agree as follows.",
      "2. Term. This Agreement lasts two (2) years from the Effective Date.",
      "3. Governing Law. The laws of the State of Delaware govern this Agreement.",
    ]);
    expect(doc).toMatchObject(await sha256Of(path));
  });

  it("separates PDF pages with a blank line", async () => {
    const path = fixture("two-pages.pdf");
    const doc = await readContract(path);
    expect(doc.text).toBe(
      [
        "SUPPLY TERMS",
        "1. Delivery. Seller ships within ten (10) days of each order.",
        "",
        "2. Payment. Buyer pays within forty-five (45) days.",
        "3. Law. New York law governs.",
      ].join("\n"),
    );
    expect(doc).toMatchObject(await sha256Of(path));
  });

  it("reads a .docx", async () => {
    const path = fixture("contract.docx");
    const doc = await readContract(path);
    expect(doc.format).toBe("docx");
    expect(doc.source).toBe("contract.docx");
    expect(doc.text).toContain("MASTER SERVICES AGREEMENT");
    expect(doc.text).toContain("Either party may terminate for convenience on sixty (60) days' notice.");
    expect(doc).toMatchObject(await sha256Of(path));
  });

  it("reads .txt, normalising CRLF/CR line endings and stripping a BOM", async () => {
    const path = join(tmp, "crlf.txt");
    await writeFile(path, Buffer.from("\uFEFFSection 1.\r\nPayment terms.\rNet 30.\n", "utf8"));
    const doc = await readContract(path);
    expect(doc.format).toBe("txt");
    expect(doc.text).toBe("Section 1.\nPayment terms.\nNet 30.\n");
    expect(doc).toMatchObject(await sha256Of(path));
  });

  it("reads .md (extension is case-insensitive)", async () => {
    const path = join(tmp, "NOTES.MD");
    await writeFile(path, "# Agreement\n\nGoverning law: Delaware. Café résumé.\n");
    const doc = await readContract(path);
    expect(doc.format).toBe("md");
    expect(doc.source).toBe("NOTES.MD");
    expect(doc.text).toContain("Café résumé");
    expect(doc.bytes).toBe(Buffer.byteLength("# Agreement\n\nGoverning law: Delaware. Café résumé.\n"));
  });

  it("reads the sample contracts", async () => {
    const dir = join(FIXTURES, "..", "..", "samples", "contracts");
    const files = await listContracts(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const doc = await readContract(file);
      expect(doc.text.length).toBeGreaterThan(1000);
    }
  });
});

describe("readContract: bad input", () => {
  it("missing file", async () => {
    const path = join(tmp, "nope.pdf");
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: no such file`);
  });

  it("a directory where a file is expected", async () => {
    const path = join(tmp, "folder.pdf");
    await mkdir(path, { recursive: true });
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: is a directory, expected a contract file`);
  });

  it("empty file", async () => {
    const path = fixture("empty.txt");
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: file is empty (0 bytes)`);
  });

  it("whitespace-only text", async () => {
    const path = join(tmp, "blank.md");
    await writeFile(path, "\uFEFF \r\n\t\n");
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: contains no text`);
  });

  it("binary data (NUL bytes) in a .txt", async () => {
    const path = fixture("binary.txt");
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: contains binary data (NUL byte at offset 18); expected UTF-8 text`);
  });

  it("invalid UTF-8 in a .md", async () => {
    const path = join(tmp, "latin1.md");
    await writeFile(path, Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x0a])); // "Café" in Latin-1
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: is not valid UTF-8 text (binary data or another encoding); save it as UTF-8`);
  });

  it("UTF-16 text", async () => {
    const path = join(tmp, "utf16.txt");
    await writeFile(path, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Contract", "utf16le")]));
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: file is UTF-16 encoded; save it as UTF-8 text`);
  });

  it("unsupported extension lists the supported ones", async () => {
    const path = join(tmp, "contract.rtf");
    await writeFile(path, "{\\rtf1 hello}");
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: unsupported file type ".rtf" (supported: .txt, .md, .pdf, .docx)`);
    const bare = join(tmp, "CONTRACT");
    await writeFile(bare, "hello");
    expect(await inputErrorOf(() => readContract(bare))).toBe(`${bare}: no file extension (supported: .txt, .md, .pdf, .docx)`);
  });

  it("over the byte limit says the size and the limit", async () => {
    const path = fixture("contract.pdf");
    const { bytes } = await sha256Of(path);
    expect(await inputErrorOf(() => readContract(path, { maxBytes: 100 }))).toBe(`${path}: file is ${bytes} bytes, over the limit of 100 bytes`);
    const big = join(tmp, "big.txt");
    await writeFile(big, "a".repeat(3 * 1024 * 1024 + 10));
    expect(await inputErrorOf(() => readContract(big, { maxBytes: 2 * 1024 * 1024 }))).toBe(`${big}: file is 3 MB, over the limit of 2 MB`);
    expect(await inputErrorOf(() => readContract(big, { maxBytes: 3 * 1024 * 1024 }))).toBe(
      `${big}: file is 3,145,738 bytes, over the limit of 3,145,728 bytes`,
    );
  });

  it("corrupt PDF", async () => {
    const path = fixture("corrupt.pdf");
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: corrupt or unreadable PDF (Invalid PDF structure)`);
  });

  it("a non-PDF with a .pdf extension", async () => {
    const path = join(tmp, "fake.pdf");
    await writeFile(path, "This is plain text pretending to be a PDF.\n");
    expect(await inputErrorOf(() => readContract(path))).toMatch(/^.*fake\.pdf: corrupt or unreadable PDF \(.+\)$/);
  });

  it("PDF with no text layer needs OCR", async () => {
    const path = fixture("no-text.pdf");
    expect(await inputErrorOf(() => readContract(path))).toBe(
      `${path}: PDF has no text layer (scanned or image-only?); it needs OCR before it can be reviewed`,
    );
  });

  it("corrupt .docx", async () => {
    const path = fixture("corrupt.docx");
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: corrupt or unreadable .docx (Corrupted zip: can't find end of central directory)`);
  });

  it("text over the character limit", async () => {
    const path = join(tmp, "long.txt");
    const chars = MAX_CONTRACT_CHARS + 1;
    await writeFile(path, "x".repeat(chars));
    expect(await inputErrorOf(() => readContract(path))).toBe(`${path}: text is 300,001 characters, over the 300,000-character limit`);
    const ok = join(tmp, "exact.txt");
    await writeFile(ok, "x".repeat(MAX_CONTRACT_CHARS));
    expect((await readContract(ok)).text.length).toBe(MAX_CONTRACT_CHARS);
  });
});

describe("listContracts", () => {
  it("lists supported files, sorted, non-recursive, skipping hidden and lock files", async () => {
    const dir = join(tmp, "inbox");
    await mkdir(join(dir, "sub.pdf"), { recursive: true });
    await mkdir(join(dir, "nested"), { recursive: true });
    for (const name of ["b.pdf", "a.txt", "C.docx", "d.md", "e.rtf", ".hidden.txt", "~$C.docx", "nested/x.txt"]) {
      await writeFile(join(dir, name), "x");
    }
    expect(await listContracts(dir)).toEqual(["C.docx", "a.txt", "b.pdf", "d.md"].map((n) => join(dir, n)));
  });

  it("InputError when there are none", async () => {
    const dir = join(tmp, "nothing");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "notes.rtf"), "x");
    expect(await inputErrorOf(() => listContracts(dir))).toBe(`${dir}: no contract files found (supported: ${SUPPORTED_EXTENSIONS.join(", ")})`);
  });

  it("InputError for a missing directory or a file", async () => {
    const missing = join(tmp, "missing-dir");
    expect(await inputErrorOf(() => listContracts(missing))).toBe(`${missing}: no such directory`);
    const file = fixture("contract.pdf");
    expect(await inputErrorOf(() => listContracts(file))).toBe(`${file}: is not a directory`);
  });
});
