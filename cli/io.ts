/** Where a command writes; tests pass their own sinks. */
export interface OutputIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Where a command reads and writes: every command takes this (or the part of it it uses). */
export interface CliIO extends OutputIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The environment the command sees (default: process.env). */
  env?: Record<string, string | undefined>;
}

export type CommandRun = (argv: string[], io: CliIO) => Promise<number>;
