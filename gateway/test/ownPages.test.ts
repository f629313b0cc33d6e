import { escapeHtml, loginPage, loginRedirect, OWN_PAGE_HEADERS, requestHostname, safeNext, signedInPage } from '../src/ownPages';

describe('the login origin, pure parts', () => {
  it('returns only to a path of the dashboard, never to another host or to our own pages', () => {
    expect(safeNext('/ui?x=1')).toBe('/ui?x=1');
    for (const bad of [undefined, null, '', 'https://evil.example/', '//evil.example/', '/\\evil.example', '/__clawjail/logout', 'ui']) {
      expect(safeNext(bad)).toBe('/');
    }
  });

  it('takes the host name of a Host header, and nothing that could inject into a URL', () => {
    expect(requestHostname('127.0.0.1:8443')).toBe('127.0.0.1');
    expect(requestHostname('[::1]:8443')).toBe('[::1]');
    expect(requestHostname('Vault.LAN')).toBe('vault.lan');
    for (const bad of [undefined, '', 'evil.example/x', 'a@b:1', 'host:port', '[::1', ' 127.0.0.1', 'a b']) {
      expect(requestHostname(bad)).toBeUndefined();
    }
  });

  it('sends the dashboard to the login port of the same host, with the path to come back to', () => {
    expect(loginRedirect('127.0.0.1:8443', 8444, '/ui?x=1')).toBe('https://127.0.0.1:8444/__clawjail/login?next=%2Fui%3Fx%3D1');
    expect(loginRedirect('[::1]:8443', 8444, '//evil.example')).toBe('https://[::1]:8444/__clawjail/login?next=%2F');
    expect(loginRedirect('bad host', 8444, '/')).toBeUndefined();
  });

  it('pages that cannot be framed, opened with a handle, embedded, or posted from elsewhere', () => {
    expect(OWN_PAGE_HEADERS['Content-Security-Policy']).toMatch(/frame-ancestors 'none'/);
    expect(OWN_PAGE_HEADERS['Content-Security-Policy']).toMatch(/form-action 'self'/);
    expect(OWN_PAGE_HEADERS['Cross-Origin-Opener-Policy']).toBe('same-origin');
    expect(OWN_PAGE_HEADERS['Cross-Origin-Resource-Policy']).toBe('same-origin');
    const html = loginPage('/a"><script>', 'https://127.0.0.1:8443');
    expect(html).not.toContain('<script>');
    expect(html).toContain(escapeHtml('/a"><script>'));
    expect(signedInPage('https://127.0.0.1:8443/"x')).toContain('url=https://127.0.0.1:8443/&quot;x');
  });
});
