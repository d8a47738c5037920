import '../../metadata-polyfill.js';
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { D7yError } from '../../errors/d7y-error.js';
import { BACKDATE_MS, caSignerOf, mintCaCertificate } from '../../roles/peer/proxy/certificate-minter.js';

const crypto = webcrypto;
const DAY_MS = 86_400_000;
const NODE_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** The files of a cluster CA folder made by `d7y cert init`. */
export function clusterCaFiles(dir: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
}

/** The files `d7y cert issue --name <name>` writes into the CA folder. */
export function nodeCertFiles(dir: string, name: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

async function writeNew(file: string, data: string, mode: number, force: boolean): Promise<void> {
  try {
    await writeFile(file, data, { mode, flag: force ? 'w' : 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new D7yError(code === 'EEXIST' ? 'D7Y_CONFLICT' : 'D7Y_PERMISSION_DENIED', `cannot write ${file}: ${code === 'EEXIST' ? 'it exists already' : code ?? String(err)}`, {
      cause: err, fix: code === 'EEXIST' ? 'choose another --dir or --name, or pass --force to replace it' : 'make the folder writable by this user',
    });
  }
}

/**
 * Makes a cluster CA in `dir` (`ca.crt`, and `ca.key` mode 0600): ECDSA P-256, CA:true, valid from
 * a day ago for `days`. An existing CA is kept (D7Y_CONFLICT) unless `force`.
 */
export async function initClusterCa(dir: string, opts: { name?: string; days?: number; force?: boolean } = {}): Promise<{ certFile: string; keyFile: string; certPem: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = clusterCaFiles(dir);
  const pair = await mintCaCertificate(opts.name ?? 'd7y cluster CA', opts.days ?? 3650);
  await writeNew(files.keyFile, pair.keyPem, 0o600, opts.force ?? false);
  await writeNew(files.certFile, pair.certPem, 0o644, opts.force ?? false);
  return { ...files, certPem: pair.certPem };
}

/** What a node certificate names: its identity (CN), and the addresses and names it serves on. */
export interface NodeCertRequest {
  name: string;
  ips?: string[];
  dns?: string[];
  days?: number;
  /** Issue time (tests make certificates that have already ended). Default now. */
  now?: number;
  force?: boolean;
}

async function readCa(dir: string): Promise<{ certPem: string; keyPem: string }> {
  const files = clusterCaFiles(dir);
  try {
    return { certPem: await readFile(files.certFile, 'utf8'), keyPem: await readFile(files.keyFile, 'utf8') };
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_NOT_FOUND', `no cluster CA in ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)} reading ${(err as { path?: string }).path ?? files.certFile}`, {
      cause: err, fix: `make one with d7y cert init --dir ${dir}, or point --dir at the folder holding ca.crt and ca.key`,
    });
  }
}

/**
 * Issues a node certificate signed by the CA in `dir` and writes `<name>.crt` and `<name>.key`
 * (mode 0600) beside it: ECDSA P-256, CN=`name`, SANs from `ips` and `dns` (the name itself when it
 * is a DNS name or an IP and no SAN is given), serverAuth and clientAuth (the same certificate
 * serves and calls), valid from a day before `now` for `days` (never past the CA's end).
 */
export async function issueNodeCertificate(dir: string, req: NodeCertRequest): Promise<{ certFile: string; keyFile: string; certPem: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(req.name)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--name ${JSON.stringify(req.name)} is not a valid node name`, {
      fix: 'use letters, digits, dots, dashes and underscores (at most 64), e.g. --name peer-1',
    });
  }
  for (const ip of req.ips ?? []) {
    if (!isIP(ip)) throw new D7yError('D7Y_INVALID_ARGUMENT', `--ip ${ip} is not an IP address`, { fix: 'give IPv4 or IPv6 addresses, e.g. --ip 10.0.0.5' });
  }
  const ca = await readCa(dir);
  const caFiles = clusterCaFiles(dir);
  const caCert = new x509.X509Certificate(ca.certPem);
  const signer = await caSignerOf(createPrivateKey(ca.keyPem), caFiles.keyFile);
  const now = req.now ?? Date.now();
  const days = req.days ?? 365;
  const notAfter = new Date(Math.min(now + days * DAY_MS, caCert.notAfter.getTime()));
  const sans: x509.JsonGeneralName[] = [
    ...(req.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(req.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  if (!sans.length) sans.push({ type: isIP(req.name) ? 'ip' : 'dns', value: req.name });
  const keys = await crypto.subtle.generateKey(NODE_KEY, true, ['sign', 'verify']);
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString('hex').replace(/^./, '1'),
    subject: [{ CN: [req.name] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ...(caKeyId ? [new x509.AuthorityKeyIdentifierExtension(caKeyId)] : []),
    ],
  }, crypto);
  const keyDer = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  const certPem = `${cert.toString('pem').trimEnd()}\n`;
  const files = nodeCertFiles(dir, req.name);
  await writeNew(files.keyFile, keyPem, 0o600, req.force ?? false);
  await writeNew(files.certFile, certPem, 0o644, req.force ?? false);
  return { ...files, certPem };
}

/** What `d7y cert show` prints about a certificate. */
export interface CertificateSummary {
  file: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** `valid`, `expired` or `not yet valid`, at the time of the call. */
  status: 'valid' | 'expired' | 'not yet valid';
  ca: boolean;
  sans: string[];
  sha256: string;
}

/** The summary of the first certificate of a PEM file (a D7yError naming the file when it is none). */
export async function describeCertificateFile(file: string): Promise<CertificateSummary> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_NOT_FOUND', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err, fix: 'give the path of a PEM certificate file' });
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(text);
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${file} is not a PEM certificate (${(err as Error).message})`, { cause: err, fix: 'give the path of a PEM certificate file (-----BEGIN CERTIFICATE-----)' });
  }
  const now = Date.now();
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return {
    file,
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: cert.serialNumber,
    notBefore: new Date(from).toISOString(),
    notAfter: new Date(to).toISOString(),
    status: now > to ? 'expired' : now < from ? 'not yet valid' : 'valid',
    ca: cert.ca,
    sans: cert.subjectAltName ? cert.subjectAltName.split(', ') : [],
    sha256: createHash('sha256').update(cert.raw).digest('hex'),
  };
}
