// clawjail fingerprint URL: prints the SHA-256 fingerprint of the certificate a server presents
// (stdout: the fingerprint alone; stderr: subject, validity, names). For a first look and for
// browser users, who compare it by hand with the one their browser shows. It sends no token and
// no application data, so it is safe to point at an untrusted address.
import { fetchPresentedCertificate, parseGatewayUrl } from '../../gateway/src/pinned';
import { HELP_OPTION, optionsHelp, parseCommandLine, UsageError, type OptionDefs } from '../args';
import type { CliIo } from './connect';

const OPTIONS = {
  timeout: { type: 'string', value: 'MS', help: 'how long to wait for the handshake (default 10000)' },
  ...HELP_OPTION,
} satisfies OptionDefs;

export const USAGE = `usage: clawjail fingerprint URL [--timeout MS]

Prints the SHA-256 fingerprint (AB:CD:...) of the TLS certificate presented at URL
(wss://host:port, https://host:port or host:port). Compare it with the stack output or the
gateway's log before pinning it; a mismatch means something else answers at that address.

options:
${optionsHelp(OPTIONS)}`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  let url: string | undefined;
  let timeoutMs = 10_000;
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS);
    if (values.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (values.timeout !== undefined) {
      if (!/^\d+$/.test(values.timeout) || Number(values.timeout) < 100) throw new UsageError('--timeout must be a number of milliseconds >= 100');
      timeoutMs = Number(values.timeout);
    }
    if (positionals.length > 1) throw new UsageError('expected one URL');
    url = positionals[0];
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`clawjail fingerprint: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  url = url ?? io.env?.CLAWJAIL_URL;
  if (!url) {
    io.stderr.write(`clawjail fingerprint: no URL\n${USAGE}\n`);
    return 2;
  }
  try {
    const target = parseGatewayUrl(url);
    const cert = await fetchPresentedCertificate({ host: target.host, port: target.port, timeoutMs });
    io.stdout.write(cert.fingerprint + '\n');
    io.stderr.write(
      `  subject:  ${cert.subject}\n  issuer:   ${cert.issuer}\n  valid:    ${cert.validFrom} .. ${cert.validTo}\n` +
        `  names:    ${cert.subjectAltName ?? '(none)'}\n  tls:      ${cert.tlsVersion ?? '?'}\n` +
        '  (unverified: this is what the server presents; compare it with the stack output before trusting it)\n',
    );
    return 0;
  } catch (e) {
    io.stderr.write(`clawjail fingerprint: ${(e as Error).message}\n`);
    return 1;
  }
}
