// The server's logger: one JSON object per line on stderr in the shape of etcd's zap output
// ({"level":"info","ts":"...","msg":"...", fields...}), so tools that read etcd logs read ours.
// etcd 3.4's other logger, capnslog, is accepted on the command line but not imitated.
import pino from "pino";
import type { LogLevel, ServerConfig } from "../config/server-config.js";

/** What the member and API layer log through (pino-compatible). */
export interface MemberLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export type ServerLogger = pino.Logger<"panic">;

export interface LoggerOptions {
  /** --logger; "capnslog" logs zap-style JSON and warns once. */
  logger?: "zap" | "capnslog";
  /** --log-level. */
  level?: LogLevel;
  /** Where the lines go; stderr when omitted (tests pass a stream). */
  destination?: pino.DestinationStream;
}

/** zap has a panic level between error and fatal; pino does not, so it is added. */
const PANIC_LEVEL = 55;

export function createLogger(opts: LoggerOptions = {}): ServerLogger {
  // Synchronous writes: a fatal startup error must reach stderr before process.exit.
  const destination = opts.destination ?? pino.destination({ fd: 2, sync: true });
  const logger = pino<"panic">(
    {
      level: opts.level ?? "info",
      customLevels: { panic: PANIC_LEVEL },
      base: undefined,
      messageKey: "msg",
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  if (opts.logger === "capnslog") {
    logger.warn(
      { logger: "capnslog" },
      "--logger=capnslog is not supported; logging etcd's zap JSON format instead",
    );
  }
  return logger;
}

/**
 * The server's logger for a parsed configuration. capnslog is etcd 3.4's default for --logger, so
 * a start that left it alone gets no warning about it; only a user who asked for capnslog (flag,
 * ETCD_LOGGER or config file) is told that zap's format is logged instead.
 */
export function createServerLogger(
  config: Pick<ServerConfig, "logger" | "loggerExplicit" | "logLevel">,
  destination?: pino.DestinationStream,
): ServerLogger {
  return createLogger({
    logger: config.loggerExplicit === true ? config.logger : undefined,
    level: config.logLevel,
    ...(destination !== undefined ? { destination } : {}),
  });
}

/** A logger that drops everything (tests, embedded use). */
export function silentLogger(): MemberLogger {
  const drop = (): void => {};
  return { info: drop, warn: drop, error: drop, debug: drop };
}
