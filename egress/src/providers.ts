// Provider routes: `/providers/<name>/<rest>` → `<baseUrl>/<rest>` with the provider's key added
// by the gate (the key never enters the cell). Parsing and header rewriting; pure apart from
// reading the file. Error messages never contain a key.
import * as fs from 'fs';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'http';
import { isIpLiteral } from './addresses';
import { isValidHostName } from './policy';

export interface Provider {
  name: string;
  baseUrl: URL;
  /** Lower-case header name the key goes into, e.g. `authorization`. */
  header: string;
  prefix: string;
  key: string;
}

/** Known shapes: what a file may leave out for these names. */
export const PROVIDER_SHAPES: Record<string, { baseUrl: string; header: string; prefix: string }> = {
  openai: { baseUrl: 'https://api.openai.com/v1', header: 'authorization', prefix: 'Bearer ' },
  openrouter: { baseUrl: 'https://openrouter.ai/api/v1', header: 'authorization', prefix: 'Bearer ' },
  anthropic: { baseUrl: 'https://api.anthropic.com', header: 'x-api-key', prefix: '' },
};

/** Removed from every provider request (then `<header>: <prefix><key>` is set). */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'proxy-authorization'];

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export class ProvidersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProvidersError';
  }
}

export function parseProviders(doc: unknown): Provider[] {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { providers?: unknown }).providers)) {
    throw new ProvidersError('expected {"providers": [{"name", "baseUrl", "header", "prefix", "key"}, ...]}');
  }
  const seen = new Set<string>();
  return ((doc as { providers: unknown[] }).providers).map((p, i) => {
    const where = `providers[${i}]`;
    if (typeof p !== 'object' || p === null) throw new ProvidersError(`${where}: expected an object`);
    const o = p as Record<string, unknown>;
    const name = o.name;
    if (typeof name !== 'string' || !NAME.test(name)) throw new ProvidersError(`${where}: "name" must match ${NAME.source}`);
    if (seen.has(name)) throw new ProvidersError(`${where}: provider "${name}" appears twice`);
    seen.add(name);
    const shape = PROVIDER_SHAPES[name];
    const str = (k: string, fallback: string | undefined): string => {
      const v = o[k] ?? fallback;
      if (typeof v !== 'string') throw new ProvidersError(`${where} (${name}): "${k}" must be a string`);
      return v;
    };
    const baseText = str('baseUrl', shape?.baseUrl);
    let baseUrl: URL;
    try {
      baseUrl = new URL(baseText);
    } catch {
      throw new ProvidersError(`${where} (${name}): "baseUrl" is not a URL`);
    }
    if (baseUrl.protocol !== 'https:') throw new ProvidersError(`${where} (${name}): "baseUrl" must be https://`);
    if (baseUrl.username || baseUrl.password || baseUrl.search || baseUrl.hash) {
      throw new ProvidersError(`${where} (${name}): "baseUrl" must have no credentials, query or fragment`);
    }
    if (isIpLiteral(baseUrl.hostname) || !isValidHostName(baseUrl.hostname)) {
      throw new ProvidersError(`${where} (${name}): "baseUrl" must name a host, not an address`);
    }
    const header = str('header', shape?.header).toLowerCase();
    if (!TOKEN.test(header)) throw new ProvidersError(`${where} (${name}): "header" is not a header name`);
    const prefix = str('prefix', shape?.prefix ?? '');
    const key = o.key;
    if (typeof key !== 'string' || key.length === 0) throw new ProvidersError(`${where} (${name}): "key" must be a non-empty string`);
    if (!/^[\x20-\x7e]*$/.test(prefix + key)) throw new ProvidersError(`${where} (${name}): "prefix" and "key" must be printable ASCII (the key is not shown)`);
    return { name, baseUrl, header, prefix, key };
  });
}

export function loadProvidersFile(file: string): Provider[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProvidersError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ProvidersError(`${file} is not valid JSON`); // no parser message: it may quote the key
  }
  return parseProviders(doc);
}

export function providerPort(p: Provider): number {
  return p.baseUrl.port ? Number(p.baseUrl.port) : 443;
}

/** `/providers/<name>/<rest>?q` → {name, path on the provider}; undefined if not a provider route. */
export function parseProviderPath(url: string): { name: string; rest: string } | undefined {
  const m = /^\/providers\/([^/?#]+)(\/[^#]*)?$/.exec(url);
  if (!m) return undefined;
  return { name: decodeURIComponent(m[1]), rest: m[2] ?? '/' };
}

/** The upstream path: baseUrl's path + rest (query kept); undefined for dot segments. */
export function upstreamPath(p: Provider, rest: string): string | undefined {
  const q = rest.indexOf('?');
  const pathPart = q >= 0 ? rest.slice(0, q) : rest;
  const segments = pathPart.split('/');
  if (segments.some((s) => /^(\.|%2e){1,2}$/i.test(s))) return undefined;
  if (/%2f|%5c|\\/i.test(pathPart)) return undefined;
  const base = p.baseUrl.pathname.replace(/\/+$/, '');
  return base + (pathPart.startsWith('/') ? pathPart : '/' + pathPart) + (q >= 0 ? rest.slice(q) : '');
}

export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Copy headers without hop-by-hop ones, those named in Connection, `proxy-*`, and `drop`. */
export function forwardHeaders(headers: IncomingHttpHeaders, drop: readonly string[] = []): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (v === undefined || HOP_BY_HOP.has(key) || named.has(key) || key.startsWith('proxy-') || drop.includes(key)) continue;
    out[key] = v;
  }
  return out;
}

/** The headers sent to the provider: credentials removed, then the provider's key set. */
export function providerRequestHeaders(p: Provider, headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out = forwardHeaders(headers, [...CREDENTIAL_HEADERS, p.header]);
  out.host = p.baseUrl.host;
  out[p.header] = p.prefix + p.key;
  return out;
}
