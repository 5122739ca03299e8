// The member's data directory: checked and locked at start so a second process (or a typo'd path
// that is a file, or unwritable) fails with a clear error instead of corrupting the WAL.
// Layout under <data-dir>/member: wal/ and snap/ (src/storage), db/ (the LMDB backend), LOCK.
import {
  mkdirSync,
  openSync,
  closeSync,
  writeSync,
  readFileSync,
  unlinkSync,
  accessSync,
  constants,
} from "node:fs";
import { join } from "node:path";

export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataDirError";
  }
}

export interface DataDirLayout {
  root: string;
  member: string;
  db: string;
  lockFile: string;
}

export function dataDirLayout(dataDir: string): DataDirLayout {
  const member = join(dataDir, "member");
  return { root: dataDir, member, db: join(member, "db"), lockFile: join(member, "LOCK") };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Creates the directories if needed, checks they are writable and takes the lock file (holding
 * this process's pid; a lock left by a dead process is taken over). Returns a release function.
 */
export function prepareDataDir(dataDir: string): { layout: DataDirLayout; release: () => void } {
  if (dataDir === "") throw new DataDirError("data dir is not set (--data-dir)");
  const layout = dataDirLayout(dataDir);
  try {
    mkdirSync(layout.db, { recursive: true, mode: 0o700 });
    accessSync(layout.member, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new DataDirError(`cannot use data dir ${JSON.stringify(dataDir)}: ${(err as Error).message}`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(layout.lockFile, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return {
        layout,
        release: () => {
          if (released) return;
          released = true;
          try {
            unlinkSync(layout.lockFile);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new DataDirError(`cannot lock data dir ${JSON.stringify(dataDir)}: ${(err as Error).message}`);
      }
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(layout.lockFile, "utf8"), 10);
      } catch {
        /* unreadable: treat as stale */
      }
      if (Number.isInteger(owner) && owner !== process.pid && pidAlive(owner)) {
        throw new DataDirError(
          `data dir ${JSON.stringify(dataDir)} is in use by process ${owner} (lock file ${layout.lockFile})`,
        );
      }
      if (owner === process.pid) {
        throw new DataDirError(`data dir ${JSON.stringify(dataDir)} is already in use by this process`);
      }
      try {
        unlinkSync(layout.lockFile); // stale lock of a dead process
      } catch {
        /* raced with another starter: retry once */
      }
    }
  }
  throw new DataDirError(`cannot lock data dir ${JSON.stringify(dataDir)}`);
}
