// Quoting for the POSIX sh scripts the stack runs on the Docker host (the moat's, the pids limit's).

/** Shell-quotes one word for POSIX sh: as is when it is plainly safe, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
