import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import forge from 'node-forge';
import {
  fingerprintOfPem,
  fingerprintsEqual,
  formatFingerprint,
  generateCertificate,
  loadCertificatePair,
  loadOrCreateCertificate,
  normalizeFingerprint,
  randomSerialHex,
} from '../src/cert';
import { tmpDir } from './helpers';

const FP_RE = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/** The serial INTEGER's content bytes, straight from the DER. */
function serialDerBytes(certPem: string): Buffer {
  const asn1 = forge.asn1.fromDer(forge.util.decode64(certPem.replace(/-----[^-]+-----|\s/g, '')));
  const tbs = (asn1.value as forge.asn1.Asn1[])[0];
  const tbsFields = tbs.value as forge.asn1.Asn1[];
  // [0] version (context-specific, constructed) then serialNumber INTEGER
  const serial = tbsFields[0].tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? tbsFields[1] : tbsFields[0];
  expect(serial.type).toBe(forge.asn1.Type.INTEGER);
  return Buffer.from(serial.value as string, 'binary');
}

function expectPositiveMinimal(bytes: Buffer): void {
  expect(bytes[0] & 0x80).toBe(0); // positive
  if (bytes.length > 1) expect(bytes[0] === 0 && (bytes[1] & 0x80) === 0).toBe(false); // minimal
}

describe('generateCertificate', () => {
  const cert = generateCertificate({ altNames: ['gateway.example', '10.0.0.5'], validityDays: 30 });
  const x509 = new crypto.X509Certificate(cert.certPem);

  it('makes a self-signed RSA-2048 certificate whose key matches', () => {
    expect(x509.publicKey.asymmetricKeyType).toBe('rsa');
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkPrivateKey(crypto.createPrivateKey(cert.keyPem))).toBe(true);
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.ca).toBe(false);
  });

  it('names localhost, 127.0.0.1, ::1 and the configured names', () => {
    const san = x509.subjectAltName ?? '';
    for (const n of ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', 'DNS:gateway.example', 'IP Address:10.0.0.5']) {
      expect(san).toContain(n);
    }
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('is valid from (a little before) now for the configured days', () => {
    const from = new Date(x509.validFrom).getTime();
    const to = new Date(x509.validTo).getTime();
    expect(from).toBeLessThanOrEqual(Date.now());
    expect(Date.now() - from).toBeLessThan(10 * 60_000);
    expect(Math.round((to - Date.now()) / 86_400_000)).toBe(30);
  });

  it('reports the SHA-256 fingerprint exactly as openssl x509 -fingerprint -sha256 does', () => {
    expect(cert.fingerprint).toMatch(FP_RE);
    expect(cert.fingerprint).toBe(x509.fingerprint256);
    const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: cert.certPem }).toString();
    expect(out.trim()).toMatch(/^sha256 Fingerprint=/i);
    expect(out.trim().split('=')[1]).toBe(cert.fingerprint);
    expect(fingerprintOfPem(cert.certPem)).toBe(cert.fingerprint);
  });

  it('has a positive serial over many runs (the top bit is masked), also as openssl reads it', () => {
    const keyPem = cert.keyPem; // reuse the key: what is tested is the serial and the DER
    for (let i = 0; i < 40; i++) {
      const c = generateCertificate({ keyPem });
      const bytes = serialDerBytes(c.certPem);
      expectPositiveMinimal(bytes);
      expect(bytes.toString('hex')).toBe(c.serialHex);
    }
    // Randomness with every top bit set: without the mask this would be a negative serial.
    const forced = generateCertificate({ keyPem, randomBytes: (n) => Buffer.alloc(n, 0xff) });
    expectPositiveMinimal(serialDerBytes(forced.certPem));
    const serialOut = execFileSync('openssl', ['x509', '-noout', '-serial'], { input: forced.certPem }).toString().trim();
    expect(serialOut).toBe('serial=7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF');
    // And all-zero randomness must not produce a zero / non-minimal serial.
    expectPositiveMinimal(serialDerBytes(generateCertificate({ keyPem, randomBytes: (n) => Buffer.alloc(n, 0) }).certPem));
  });

  it('rejects bad names, bad validity and non-2048 keys', () => {
    expect(() => generateCertificate({ keyPem: cert.keyPem, altNames: ['bad name'] })).toThrow(/invalid certificate name/);
    expect(() => generateCertificate({ keyPem: cert.keyPem, validityDays: 0 })).toThrow(/validityDays/);
    const small = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => generateCertificate({ keyPem: small })).toThrow(/RSA-2048/);
  });
});

describe('randomSerialHex', () => {
  it('always yields a first byte from 0x01 to 0x7f (10,000 draws)', () => {
    for (let i = 0; i < 10_000; i++) {
      const first = parseInt(randomSerialHex().slice(0, 2), 16);
      expect(first >= 1 && first <= 0x7f).toBe(true);
    }
  });
  it('masks the top bit and avoids a leading zero', () => {
    expect(randomSerialHex(() => Buffer.alloc(16, 0xff)).slice(0, 2)).toBe('7f');
    expect(randomSerialHex(() => Buffer.alloc(16, 0x80)).slice(0, 2)).toBe('01');
    expect(randomSerialHex(() => Buffer.alloc(16, 0)).slice(0, 2)).toBe('01');
    expect(randomSerialHex()).toHaveLength(32);
  });
});

describe('fingerprint notation', () => {
  const fp = formatFingerprint(crypto.createHash('sha256').update('x').digest());
  it('normalizes what people paste', () => {
    expect(fp).toMatch(FP_RE);
    expect(normalizeFingerprint(fp.toLowerCase())).toBe(fp);
    expect(normalizeFingerprint(fp.replace(/:/g, ''))).toBe(fp);
    expect(normalizeFingerprint(`sha256 Fingerprint=${fp}`)).toBe(fp);
    expect(normalizeFingerprint(`SHA256:${fp}`)).toBe(fp);
    expect(fingerprintsEqual(fp, fp.toLowerCase().replace(/:/g, ' '))).toBe(true);
  });
  it('rejects what is not a SHA-256 fingerprint', () => {
    expect(() => normalizeFingerprint(fp.slice(3))).toThrow(/not a SHA-256 fingerprint/);
    expect(() => normalizeFingerprint('zz' + fp.slice(2))).toThrow(/not a SHA-256 fingerprint/);
    expect(fingerprintsEqual(fp, 'nonsense')).toBe(false);
    expect(fingerprintsEqual(fp, formatFingerprint(crypto.createHash('sha256').update('y').digest()))).toBe(false);
  });
});

describe('loadOrCreateCertificate', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('creates cert + key at first start (dir 0700, key 0600) and loads the same pair afterwards', () => {
    const base = tmpDir();
    dirs.push(base);
    const dir = path.join(base, 'state');
    const first = loadOrCreateCertificate(dir, { altNames: ['vault.test'] });
    expect(first.created).toBe(true);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(first.keyPath).mode & 0o777).toBe(0o600);
    expect(fs.statSync(first.certPath).mode & 0o777).toBe(0o644);
    expect(fs.readdirSync(dir).sort()).toEqual(['cert.pem', 'key.pem']); // no temp files left
    const second = loadOrCreateCertificate(dir);
    expect(second.created).toBe(false);
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(second.warnings).toEqual([]);
  });

  it('refuses a directory with only one half of the pair, and a key that does not match', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const a = loadOrCreateCertificate(dir);
    fs.renameSync(a.keyPath, a.keyPath + '.bak');
    expect(() => loadOrCreateCertificate(dir)).toThrow(/cert.pem but no key.pem/);
    const other = generateCertificate();
    fs.writeFileSync(a.keyPath, other.keyPem, { mode: 0o600 });
    expect(() => loadOrCreateCertificate(dir)).toThrow(/does not match/);
  });

  it('warns when the key is readable by others, and never echoes key material in errors', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const a = loadOrCreateCertificate(dir);
    fs.chmodSync(a.keyPath, 0o644);
    expect(loadCertificatePair(a.certPath, a.keyPath).warnings.join()).toMatch(/chmod 600/);
    fs.writeFileSync(a.keyPath, '-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n');
    let msg = '';
    try {
      loadCertificatePair(a.certPath, a.keyPath);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/cannot parse the private key/);
    expect(msg).not.toContain('SECRET');
  });
});
