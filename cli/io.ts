/** Where a command reads and writes; tests pass their own streams. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export type CommandRun = (argv: string[], io: CliIO) => Promise<number>;
