// The gateway's own pages, on the login origin: a second TLS port (same certificate) that never
// serves a byte of OpenClaw. The dashboard is the prisoner's code; in the browser it runs on the
// dashboard origin, and the same-origin policy keeps it from scripting, framing or reading a page
// of another port, so the form where the operator types the token is out of its reach.
import type * as http from 'http';
import { clearSessionCookieHeader, makeSessionValue, originMatchesHost, sessionCookieHeader, tokensEqual } from './auth';
import type { Logger } from './log';

export const OWN_PREFIX = '/__clawjail/';
export const LOGIN_PATH = '/__clawjail/login';
export const LOGOUT_PATH = '/__clawjail/logout';

export const OWN_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // A window the dashboard opens on the login page gets no handle on it (nor can it navigate it away).
  'Cross-Origin-Opener-Policy': 'same-origin',
  // Nor can the dashboard embed the page as an image, script or frame resource.
  'Cross-Origin-Resource-Policy': 'same-origin',
  // not no-referrer: with it, browsers send "Origin: null" on the login POST, which the origin check refuses
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** A path on the dashboard origin to return to; anything else (another host, our own pages) is "/". */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith(OWN_PREFIX)) return '/';
  return next;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The host name of a Host header (without its port), or undefined when it is not a plain DNS name
 * or IP literal: redirects between the two origins are built from it.
 */
export function requestHostname(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(?::\d{1,5})?$/.exec(host);
  return m ? m[1].toLowerCase() : undefined;
}

export function originOf(hostname: string, port: number): string {
  return port === 443 ? `https://${hostname}` : `https://${hostname}:${port}`;
}

const STYLE = `<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
input[type=password]{width:100%;padding:.5rem;font-family:monospace}button{margin-top:1rem;padding:.5rem 1rem}
.err{color:#b00}</style>`;

export function loginPage(next: string, dashboardOrigin: string, error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clawjail gateway: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${STYLE}</head>
<body><h1>clawjail gateway</h1>
<p>Before typing the token, check that the certificate your browser shows for this page has the
SHA-256 fingerprint printed by <code>clawjail fingerprint</code> / the stack output.</p>
<p>This page is the only place for the operator token: its port is not the dashboard's
(<code>${escapeHtml(dashboardOrigin)}</code>). A token prompt on the dashboard's port comes from the agent.</p>
${error ? `<p class="err">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${LOGIN_PATH}">
<label>Operator token<br><input type="password" name="token" autocomplete="current-password" autofocus required></label>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<br><button type="submit">Open the dashboard</button></form>
<form method="post" action="${LOGOUT_PATH}"><button type="submit">Log out</button></form></body></html>
`;
}

/** After a login: a link to the dashboard, followed at once (a navigation, not a form redirect, so form-action stays 'self'). */
export function signedInPage(target: string): string {
  const t = escapeHtml(target);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clawjail gateway: signed in</title>
<meta http-equiv="refresh" content="0;url=${t}">${STYLE}</head>
<body><h1>clawjail gateway</h1><p>Signed in. <a href="${t}">Open the dashboard</a>.</p></body></html>
`;
}

export interface LoginOriginDeps {
  /** The operator token now (it changes on SIGHUP). */
  token(): string;
  sessionTtlSeconds: number;
  /** Port of the dashboard origin as browsers see it. */
  dashboardPort: number;
  noteAuthFailure(req: http.IncomingMessage, reason: string, via: string): void;
  refused(kind: 'forbidden' | 'unauthorized' | 'tooLarge' | 'badRequest'): void;
  log: Logger;
}

/** Every request on the login origin (after the gateway's admission checks). */
export function serveLoginOrigin(req: http.IncomingMessage, res: http.ServerResponse, deps: LoginOriginDeps): void {
  const page = (status: number, html: string, headers: Record<string, string | string[]> = {}) => {
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', ...OWN_PAGE_HEADERS, ...headers });
    res.end(req.method === 'HEAD' ? undefined : html);
  };
  const url = req.url ?? '/';
  const pathname = url.split('?')[0];
  const hostname = requestHostname(req.headers.host);
  if (!hostname) {
    deps.refused('badRequest');
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    return void res.end('bad request: missing or malformed Host header\n');
  }
  const dashboard = originOf(hostname, deps.dashboardPort);
  const isRead = req.method === 'GET' || req.method === 'HEAD';
  if (pathname === '/' && isRead) {
    res.writeHead(303, { Location: LOGIN_PATH, 'Cache-Control': 'no-store' });
    return void res.end();
  }
  if (pathname === LOGIN_PATH && isRead) {
    const next = new URL(url, 'https://gateway.invalid').searchParams.get('next');
    return page(200, loginPage(safeNext(next), dashboard));
  }
  const site = req.headers['sec-fetch-site'];
  const crossSite = !originMatchesHost(req.headers) || (site !== undefined && site !== 'same-origin' && site !== 'none');
  if ((pathname === LOGIN_PATH || pathname === LOGOUT_PATH) && req.method === 'POST' && crossSite) {
    // A form on the dashboard origin posting here: either a login CSRF or a forced logout.
    deps.refused('forbidden');
    return page(403, loginPage('/', dashboard, 'Cross-origin request refused.'));
  }
  if (pathname === LOGIN_PATH && req.method === 'POST') {
    return readSmallBody(req, 8192, (err, body) => {
      if (err || body === undefined) {
        deps.refused('tooLarge');
        return page(413, loginPage('/', dashboard, 'Request too large.'));
      }
      const form = new URLSearchParams(body);
      const next = safeNext(form.get('next'));
      const presented = form.get('token') ?? '';
      const token = deps.token();
      if (!presented || !tokensEqual(presented, token)) {
        deps.noteAuthFailure(req, presented ? 'invalid' : 'missing', 'login');
        deps.refused('unauthorized');
        return page(401, loginPage(next, dashboard, 'Wrong token.'));
      }
      deps.log('info', 'browser session opened', { remote: req.socket.remoteAddress });
      // The cookie is host-only (__Host-) and cookies do not isolate ports, so the dashboard origin gets it too.
      page(200, signedInPage(dashboard + next), { 'Set-Cookie': sessionCookieHeader(makeSessionValue(token, deps.sessionTtlSeconds), deps.sessionTtlSeconds) });
    });
  }
  if (pathname === LOGOUT_PATH && req.method === 'POST') {
    req.resume();
    // Also a Partitioned cookie of that name, which the dashboard's script may have planted.
    res.writeHead(303, { Location: LOGIN_PATH, 'Set-Cookie': [clearSessionCookieHeader(), `${clearSessionCookieHeader()}; Partitioned`], 'Cache-Control': 'no-store' });
    return void res.end();
  }
  req.resume();
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...OWN_PAGE_HEADERS });
  res.end('not found: this port serves only the gateway\'s login page\n');
}

/**
 * The dashboard origin's answer for the reserved prefix: the login page lives elsewhere, so the
 * prisoner's code cannot fetch, frame or script it from here.
 */
export function loginRedirect(host: string | undefined, loginPort: number, next: string): string | undefined {
  const hostname = requestHostname(host);
  if (!hostname) return undefined;
  return `${originOf(hostname, loginPort)}${LOGIN_PATH}?next=${encodeURIComponent(safeNext(next))}`;
}

export function readSmallBody(req: http.IncomingMessage, limit: number, done: (err: Error | undefined, body?: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on('data', (c: Buffer) => {
    if (finished) return;
    size += c.length;
    if (size > limit) {
      finished = true;
      req.resume();
      return done(new Error('too large'));
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(undefined, Buffer.concat(chunks).toString('utf8'));
  });
  req.on('error', (e) => {
    if (finished) return;
    finished = true;
    done(e);
  });
}
