#!/usr/bin/env node
// The `opsgraph` command: runs cli/main.ts through tsx, so the TypeScript sources are the program.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
