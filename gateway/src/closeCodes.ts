// WebSocket close codes as the bridge passes them between the operator and OpenClaw.

/** Close codes that may be sent on the wire (RFC 6455 §7.4; ws's own check). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * Mirrors a close seen on one side onto the other. 1005 (no code) becomes 1000; an abnormal
 * end (1006, 1015) becomes 1011 towards the client and 1001 towards the upstream.
 */
export function mapCloseCode(code: number, reason: string, towards: 'client' | 'upstream'): { code: number; reason: string } {
  if (code === 1005) return { code: 1000, reason: '' };
  if (code === 1006 || code === 1015 || !isSendableCloseCode(code)) {
    return towards === 'client'
      ? { code: 1011, reason: 'upstream connection lost' }
      : { code: 1001, reason: 'client connection lost' };
  }
  return { code, reason: truncateReason(reason) };
}

/** A close reason is at most 123 bytes of UTF-8. */
export function truncateReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

/** Close code for a ws protocol error raised while reading from a peer. */
export function closeCodeForError(err: Error & { code?: string }): number {
  switch (err.code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
      return 1009;
    case 'WS_ERR_INVALID_UTF8':
      return 1007;
    default:
      return err.code?.startsWith('WS_ERR_') ? 1002 : 1011;
  }
}
