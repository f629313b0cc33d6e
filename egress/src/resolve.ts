// A-record lookups through one configured DNS server (EGRESS_RESOLVER), never the system's.
import { promises as dnsPromises } from 'dns';

export type ResolveResult =
  | { ok: true; addresses: string[] }
  | { ok: false; reason: 'no-such-host' | 'resolver-failed'; detail: string };

export type ResolveFn = (host: string) => Promise<ResolveResult>;

export interface ResolverServer {
  host: string;
  port: number;
}

/** `ip:port` in the form dns.setServers takes (IPv6 bracketed). */
export function serverString(s: ResolverServer): string {
  return s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

const NO_SUCH_HOST = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

/** A resolver bound to `server`; each lookup gives up after `timeoutMs`. */
export function createResolver(server: ResolverServer, timeoutMs = 5_000): ResolveFn {
  return async (host: string): Promise<ResolveResult> => {
    const resolver = new dnsPromises.Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / 2)), tries: 2 });
    resolver.setServers([serverString(server)]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<ResolveResult>((resolve) => {
      timer = setTimeout(() => {
        resolver.cancel();
        resolve({ ok: false, reason: 'resolver-failed', detail: `no answer from the resolver within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    const lookup = resolver.resolve4(host).then(
      (addresses): ResolveResult =>
        addresses.length > 0 ? { ok: true, addresses } : { ok: false, reason: 'no-such-host', detail: `${host} has no A record` },
      (e: NodeJS.ErrnoException): ResolveResult => {
        const code = String(e.code ?? '');
        if (NO_SUCH_HOST.has(code)) return { ok: false, reason: 'no-such-host', detail: `${host} has no A record (${code})` };
        return { ok: false, reason: 'resolver-failed', detail: `the resolver failed (${code || e.message})` };
      },
    );
    try {
      return await Promise.race([lookup, deadline]);
    } finally {
      clearTimeout(timer);
    }
  };
}
