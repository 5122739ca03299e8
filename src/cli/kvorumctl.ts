#!/usr/bin/env node
// kvorumctl: Kvorum's operator tool. Subcommands are registered by the modules they belong to.

import { Command } from "commander";
import { VERSION } from "../version.js";
import { registerBench } from "./bench.js";
import { registerCheckData } from "./check-data.js";
import { registerCheckWal } from "./check-wal.js";
import { registerClusterUp } from "./cluster-up.js";
import { registerSnapshot } from "./snapshot.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("kvorumctl")
    .description("Operator tool for Kvorum, the etcd-compatible replicated key-value store")
    .version(VERSION, "--version", "print the version and exit")
    .showHelpAfterError();
  registerCheckWal(program);
  registerCheckData(program);
  registerClusterUp(program);
  registerBench(program);
  registerSnapshot(program);
  return program;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildProgram().parseAsync(process.argv);
}
