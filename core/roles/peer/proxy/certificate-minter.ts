import '../../../metadata-polyfill.js';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { D7yError } from '../../../errors/d7y-error.js';

const crypto = webcrypto;
type CryptoKey = webcrypto.CryptoKey;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;
const DAY_MS = 86_400_000;
/** Certificates start this long before they are made, so a client whose clock is behind accepts them. */
export const BACKDATE_MS = DAY_MS;
const LEAF_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

let library: Promise<typeof X509> | undefined;

/**
 * The X.509 library, loaded on first use: it and its ASN.1 modules cost a daemon about a third of
 * a CPU-second at start, and most daemons never mint a certificate.
 */
function x509Library(): Promise<typeof X509> {
  library ??= import('@peculiar/x509');
  return library;
}

/** A CA's private key ready to sign, with the algorithm its signatures use. */
export interface CaSigner {
  key: CryptoKey;
  algorithm: Algorithm | EcdsaParams;
}

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/**
 * The signer of a CA private key: ECDSA on P-256/P-384/P-521 or RSA (PKCS#1 v1.5, SHA-256).
 * Another kind of key is D7Y_CONFIG_INVALID naming `keyFile`.
 */
export async function caSignerOf(key: KeyObject, keyFile: string): Promise<CaSigner> {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType === 'ec') {
    const curve = { prime256v1: ['P-256', 'SHA-256'], secp384r1: ['P-384', 'SHA-384'], secp521r1: ['P-521', 'SHA-512'] }[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve) {
      const imported = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curve[0] }, false, ['sign']);
      return { key: imported, algorithm: { name: 'ECDSA', hash: curve[1] } };
    }
  } else if (key.asymmetricKeyType === 'rsa') {
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { key: await crypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']), algorithm };
  }
  const kind = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : key.asymmetricKeyType ?? 'unknown';
  throw new D7yError('D7Y_CONFIG_INVALID', `${keyFile}: a ${kind} key cannot sign the proxy's certificates`, {
    fix: 'use a CA whose key is ECDSA (P-256, P-384 or P-521) or RSA',
  });
}

/** A positive serial number of 128 random bits, as hex. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x10;
  return bytes.toString('hex');
}

async function keyPairPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The ECDSA P-256 key pair of a PKCS#8 PEM private key. */
async function keyPairOf(keyPem: string): Promise<webcrypto.CryptoKeyPair> {
  const key = createPrivateKey(keyPem);
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return {
    privateKey: await crypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), LEAF_KEY, true, ['sign']),
    publicKey: await crypto.subtle.importKey('spki', spki, LEAF_KEY, true, ['verify']),
  };
}

/**
 * A self-signed CA: a new ECDSA P-256 key (or the P-256 key `keyPem`), subject `CN=<commonName>`,
 * valid from a day ago for `days`, CA:true with path length 0 (it signs leaves only),
 * keyCertSign and cRLSign.
 */
export async function mintCaCertificate(commonName: string, days: number, keyPem?: string, now = Date.now()): Promise<PemPair> {
  const x509 = await x509Library();
  const keys = keyPem ? await keyPairOf(keyPem) : await crypto.subtle.generateKey(LEAF_KEY, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [commonName] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    ],
  }, crypto);
  return { certPem: withNewline(cert.toString('pem')), keyPem: await keyPairPem(keys) };
}

/** Whether a CA certificate that names its key usages allows keyCertSign (one that names none does). */
export async function allowsCertSigning(caCertPem: string): Promise<boolean> {
  const x509 = await x509Library();
  const usage = new x509.X509Certificate(caCertPem).getExtension(x509.KeyUsagesExtension);
  return !usage || (usage.usages & x509.KeyUsageFlags.keyCertSign) !== 0;
}

/** What a leaf is minted from: the CA's certificate, its signer and its validity end. */
export interface LeafIssuer {
  certPem: string;
  signer: CaSigner;
  notAfter: Date;
}

/**
 * A TLS server certificate for `host` (a DNS name, or an IPv4/IPv6 address) with its own
 * ECDSA P-256 key, signed by `issuer`: SAN DNS or IP, serverAuth, valid from a day ago for `days`
 * (never past the CA's own end). Returns the PEM pair and the end of its validity.
 */
export async function mintLeafCertificate(host: string, issuer: LeafIssuer, days: number, now = Date.now()): Promise<PemPair & { notAfter: Date }> {
  const x509 = await x509Library();
  const keys = await crypto.subtle.generateKey(LEAF_KEY, true, ['sign', 'verify']);
  const ca = new x509.X509Certificate(issuer.certPem);
  const notAfter = new Date(Math.min(now + days * DAY_MS, issuer.notAfter.getTime()));
  const named = host.length <= 64;
  const caKeyId = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: named ? [{ CN: [host] }] : [],
    issuer: ca.subjectName,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer.signer.key,
    signingAlgorithm: issuer.signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: isIP(host) ? 'ip' : 'dns', value: host }], !named),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ...(caKeyId ? [new x509.AuthorityKeyIdentifierExtension(caKeyId)] : []),
    ],
  }, crypto);
  return { certPem: withNewline(cert.toString('pem')), keyPem: await keyPairPem(keys), notAfter };
}

function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}
