// Side-by-side parity: run the same steps against real etcd 3.4 and Kvorum, and hand both
// observations to the test to compare. etcd is the oracle; where it is not installed the tests
// that need it are skipped with a printed reason (CI installs Debian's etcd-server).

import { ETCD_MISSING, startServer, type RunningServer, type StartOptions } from "./harness.js";

/** A reason to skip a side-by-side test, or false when etcd is on the PATH. */
export const PARITY_SKIP: string | false =
  ETCD_MISSING === false
    ? false
    : "etcd 3.4 is not installed (CI installs Debian's etcd-server); skipping the side-by-side test";

if (PARITY_SKIP !== false) console.log(`# ${PARITY_SKIP}`);

export interface BothResults<T> {
  etcd: T;
  kvorum: T;
}

/**
 * Start etcd, run `steps` against it, stop it; then the same for Kvorum. The servers run one at a
 * time so that neither competes with the other for this machine's two cores.
 */
export async function onBoth<T>(
  steps: (server: RunningServer) => Promise<T>,
  opts: StartOptions | ((kind: "etcd" | "kvorum") => StartOptions) = {},
): Promise<BothResults<T>> {
  const run = async (kind: "etcd" | "kvorum"): Promise<T> => {
    const server = await startServer(kind, typeof opts === "function" ? opts(kind) : opts);
    try {
      return await steps(server);
    } finally {
      await server.stop();
    }
  };
  const etcd = await run("etcd");
  const kvorum = await run("kvorum");
  return { etcd, kvorum };
}
