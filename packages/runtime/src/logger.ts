// One logger interface for the runtime and the operator. winston sits behind
// createLogger(); nothing else needs to know. Structured JSON, one object per
// line: {"level","msg","timestamp",...fields}.
import type { Writable } from 'node:stream';
import winston from 'winston';

export type Fields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Fields): Logger;
}

export const LOG_LEVELS = Object.keys(winston.config.npm.levels);

export function validateLogLevel(level: string): string {
  if (!LOG_LEVELS.includes(level)) {
    throw new Error(`invalid log level "${level}": expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return level;
}

/** Renames winston's `message` to `msg`, the key log tooling for operators expects. */
const messageAsMsg = winston.format((info) => {
  info.msg = info.message;
  Reflect.deleteProperty(info, 'message');
  return info;
});

export function createLogger(level = 'info', options: { stream?: Writable } = {}): Logger {
  return winston.createLogger({
    level: validateLogLevel(level),
    levels: winston.config.npm.levels,
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), messageAsMsg(), winston.format.json()),
    transports: [options.stream ? new winston.transports.Stream({ stream: options.stream }) : new winston.transports.Console()],
  });
}

/** Discards everything; for components whose caller passed no logger, and for tests. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
