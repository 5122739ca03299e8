// Kvorum's own --help text: every flag grouped as etcd groups them, with its default, and the
// flags Kvorum only accepts for compatibility marked as ignored.

import { FLAGS, flagToEnv, type FlagGroup } from "./flag-table.js";

const GROUP_TITLES: ReadonlyArray<[FlagGroup, string]> = [
  ["general", "General"],
  ["member", "Member"],
  ["clustering", "Clustering"],
  ["security", "Security"],
  ["auth", "Auth"],
  ["profiling", "Profiling and monitoring"],
  ["logging", "Logging"],
  ["proxy", "v2 proxy"],
  ["experimental", "Experimental"],
  ["unsafe", "Unsafe"],
];

/** The text `kvorum --help` prints. */
export function renderHelp(): string {
  const lines: string[] = [
    "Usage: kvorum [flags]",
    "",
    "Kvorum serves the etcd v3 API. Flags use etcd 3.4's names and defaults; each can also be",
    "given as an environment variable (--initial-cluster -> ETCD_INITIAL_CLUSTER). A flag on the",
    "command line wins over its variable. With --config-file, the YAML file is the whole",
    "configuration and other flags and variables are ignored.",
  ];
  for (const [group, title] of GROUP_TITLES) {
    lines.push("", `${title}:`);
    for (const spec of FLAGS.filter((f) => f.group === group)) {
      const shownDefault = spec.defaultText === "" ? "''" : `'${spec.defaultText}'`;
      lines.push(`  --${spec.name} ${shownDefault}${spec.supported ? "" : "  [ignored by Kvorum]"}`);
      lines.push(`      ${spec.description} (env ${flagToEnv(spec.name)})`);
    }
  }
  return lines.join("\n") + "\n";
}
