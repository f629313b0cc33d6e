// The vault's identity: an RSA-2048 self-signed certificate whose SHA-256 fingerprint is what
// operators pin. Pure apart from loadOrCreateCertificate (file I/O).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import forge from 'node-forge';

export interface CertificateOptions {
  /** Subject CN. Default "clawjail-gateway". */
  commonName?: string;
  /** Extra subjectAltNames (DNS names or IP literals) besides localhost, 127.0.0.1 and ::1. */
  altNames?: string[];
  /** Validity in days from now. Default 365. */
  validityDays?: number;
  /** Reuse an existing RSA private key (PEM) instead of generating one (rotation of the cert only, tests). */
  keyPem?: string;
  /** Clock, for tests. */
  now?: Date;
  /** Randomness for the serial number, for tests. */
  randomBytes?: (n: number) => Buffer;
}

export interface GeneratedCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 over the DER certificate, `AB:CD:...` (what `openssl x509 -fingerprint -sha256` prints). */
  fingerprint: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  altNames: string[];
}

export const DEFAULT_ALT_NAMES = ['localhost', '127.0.0.1', '::1'];
const KEY_BITS = 2048;
/** Tolerate client clocks a little behind ours. */
const BACKDATE_MS = 5 * 60 * 1000;

/** Colon-separated uppercase hex of a digest: `AB:CD:...`. */
export function formatFingerprint(digest: Buffer): string {
  return digest.toString('hex').toUpperCase().match(/../g)!.join(':');
}

/**
 * Accepts what people paste: `AB:CD:..`, `abcd..`, `sha256:AB:CD` / `SHA256 Fingerprint=AB:..`,
 * with spaces. Returns the canonical `AB:CD:...` form or throws naming what was wrong.
 */
export function normalizeFingerprint(input: string): string {
  let s = input.trim();
  s = s.replace(/^sha-?256\s*(fingerprint)?\s*[=:]\s*/i, '');
  const hex = s.replace(/[\s:]/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error(`not a SHA-256 fingerprint (expected 32 bytes of hex such as AB:CD:...): "${input.slice(0, 120)}"`);
  }
  return formatFingerprint(Buffer.from(hex, 'hex'));
}

/** Compares two fingerprints in any accepted notation. */
export function fingerprintsEqual(a: string, b: string): boolean {
  try {
    return normalizeFingerprint(a) === normalizeFingerprint(b);
  } catch {
    return false;
  }
}

/** SHA-256 fingerprint of the first certificate in a PEM text. */
export function fingerprintOfPem(pem: string): string {
  const x509 = new crypto.X509Certificate(pem);
  return fingerprintOfDer(x509.raw);
}

export function fingerprintOfDer(der: Buffer): string {
  return formatFingerprint(crypto.createHash('sha256').update(der).digest());
}

/**
 * A random 128-bit serial that DER encodes as a positive, minimally encoded INTEGER:
 * the top bit of the first byte is cleared (a set top bit would make the serial negative,
 * which RFC 5280 forbids and strict parsers reject) and the first byte is never zero
 * (a leading 0x00 before a byte < 0x80 is a non-minimal encoding).
 */
export function randomSerialHex(randomBytes: (n: number) => Buffer = crypto.randomBytes): string {
  const bytes = Buffer.from(randomBytes(16));
  bytes[0] = bytes[0] & 0x7f;
  if (bytes[0] === 0) bytes[0] = 0x01;
  return bytes.toString('hex');
}

function altNameEntries(names: string[]): Array<{ type: number; value?: string; ip?: string }> {
  return names.map((name) => (net.isIP(name) ? { type: 7, ip: name } : { type: 2, value: name }));
}

/** Validates one subjectAltName entry: an IP literal or a DNS name (wildcards not allowed). */
export function isValidAltName(name: string): boolean {
  if (net.isIP(name)) return true;
  return /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(name);
}

export function generateCertificate(opts: CertificateOptions = {}): GeneratedCertificate {
  const now = opts.now ?? new Date();
  const validityDays = opts.validityDays ?? 365;
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 3650) {
    throw new Error(`validityDays must be an integer from 1 to 3650, got ${validityDays}`);
  }
  const altNames = [...new Set([...DEFAULT_ALT_NAMES, ...(opts.altNames ?? [])])];
  for (const name of altNames) {
    if (!isValidAltName(name)) throw new Error(`invalid certificate name "${name}" (expected a DNS name or an IP address)`);
  }

  // Key generation by Node's native crypto (OpenSSL, OS CSPRNG); the certificate by node-forge.
  const keyPem =
    opts.keyPem ??
    crypto.generateKeyPairSync('rsa', { modulusLength: KEY_BITS, publicExponent: 0x10001 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
  const privateKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  if (privateKey.n.bitLength() !== KEY_BITS) {
    throw new Error(`expected an RSA-${KEY_BITS} key, got ${privateKey.n.bitLength()} bits`);
  }
  const publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);

  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex(opts.randomBytes);
  const notBefore = new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
  const notAfter = new Date(Math.floor((now.getTime() + validityDays * 86_400_000) / 1000) * 1000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject = [
    { name: 'commonName', value: opts.commonName ?? 'clawjail-gateway' },
    { name: 'organizationName', value: 'clawjail' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: altNameEntries(altNames) },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return {
    certPem,
    keyPem,
    fingerprint: fingerprintOfPem(certPem),
    serialHex: cert.serialNumber,
    notBefore,
    notAfter,
    altNames,
  };
}

export interface StoredCertificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  fingerprint: string;
  /** True when this call generated the pair. */
  created: boolean;
  /** Non-fatal findings, e.g. a key readable by others or a certificate close to expiry. */
  warnings: string[];
}

/** Checks that a private key and a certificate belong together and that the key is RSA. */
export function assertKeyMatchesCertificate(certPem: string, keyPem: string, label = 'certificate'): void {
  let x509: crypto.X509Certificate;
  let key: crypto.KeyObject;
  try {
    x509 = new crypto.X509Certificate(certPem);
  } catch (e) {
    throw new Error(`${label}: cannot parse the certificate PEM (${(e as Error).message})`);
  }
  try {
    key = crypto.createPrivateKey(keyPem);
  } catch {
    // Never echo key material or parser details that could contain it.
    throw new Error(`${label}: cannot parse the private key PEM`);
  }
  if (!x509.checkPrivateKey(key)) throw new Error(`${label}: the private key does not match the certificate`);
}

/** Inspects an existing certificate: warnings for expiry. Throws when it is unusable. */
export function certificateWarnings(certPem: string, now = new Date()): string[] {
  const x509 = new crypto.X509Certificate(certPem);
  const notAfter = new Date(x509.validTo);
  const warnings: string[] = [];
  if (notAfter.getTime() <= now.getTime()) {
    warnings.push(`certificate expired on ${notAfter.toISOString()}; rotate it (see README)`);
  } else if (notAfter.getTime() - now.getTime() < 30 * 86_400_000) {
    warnings.push(`certificate expires on ${notAfter.toISOString()}; rotate it soon (see README)`);
  }
  return warnings;
}

function permissionWarning(file: string): string | undefined {
  const mode = fs.statSync(file).mode & 0o777;
  return mode & 0o077
    ? `${file} is accessible by group/others (mode ${mode.toString(8)}); run chmod 600 on it`
    : undefined;
}

/** Writes a file atomically (temp + rename) with the given mode; refuses to follow an existing temp. */
function writeFileAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, mode); // the umask may have narrowed it further; make it exact
  fs.renameSync(tmp, file);
}

/**
 * Loads `cert.pem` + `key.pem` from `dir`, or creates them at first start (dir 0700, key 0600,
 * cert 0644). A directory holding only one of the two is an error, never silently overwritten.
 */
export function loadOrCreateCertificate(dir: string, opts: CertificateOptions = {}): StoredCertificate {
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const haveCert = fs.existsSync(certPath);
  const haveKey = fs.existsSync(keyPath);
  if (haveCert !== haveKey) {
    throw new Error(
      `${dir} holds ${haveCert ? 'cert.pem but no key.pem' : 'key.pem but no cert.pem'}; ` +
        'restore the missing file or remove both to generate a new pair (operators must then re-pin)',
    );
  }
  if (haveCert) {
    return loadCertificatePair(certPath, keyPath, opts.now);
  }
  const generated = generateCertificate(opts);
  writeFileAtomic(keyPath, generated.keyPem, 0o600);
  writeFileAtomic(certPath, generated.certPem, 0o644);
  return {
    certPath,
    keyPath,
    certPem: generated.certPem,
    keyPem: generated.keyPem,
    fingerprint: generated.fingerprint,
    created: true,
    warnings: [],
  };
}

/** Loads an existing certificate + key pair (e.g. GATEWAY_CERT / GATEWAY_KEY) and validates it. */
export function loadCertificatePair(certPath: string, keyPath: string, now = new Date()): StoredCertificate {
  const certPem = fs.readFileSync(certPath, 'utf8');
  const keyPem = fs.readFileSync(keyPath, 'utf8');
  assertKeyMatchesCertificate(certPem, keyPem, certPath);
  const warnings = certificateWarnings(certPem, now);
  const permWarning = permissionWarning(keyPath);
  if (permWarning) warnings.push(permWarning);
  return { certPath, keyPath, certPem, keyPem, fingerprint: fingerprintOfPem(certPem), created: false, warnings };
}
