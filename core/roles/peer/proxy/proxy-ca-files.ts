import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { allowsCertSigning, mintCaCertificate } from './certificate-minter.js';

/** How long a CA d7y makes for itself is valid. */
export const GENERATED_CA_DAYS = 3650;

/** A CA certificate and its private key, read and checked. */
export interface CaPair {
  certPem: string;
  cert: X509Certificate;
  key: KeyObject;
  certFile: string;
  keyFile: string;
  /** True when this call made the pair (first use of the folder). */
  generated: boolean;
}

/** Where a CA came from, for the fix of an error about it. */
type Origin = 'user' | 'generated';

function fixFor(origin: Origin, certFile: string, keyFile: string): string {
  return origin === 'user'
    ? 'point the proxy CA certFile/keyFile settings at a PEM CA certificate and the PEM private key it was made with'
    : `delete ${certFile} and ${keyFile} so that d7y makes a new CA, then trust the new one (d7y proxy ca prints it)`;
}

async function readOptional(file: string, origin: Origin): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && origin === 'generated') return undefined;
    if (code === 'ENOENT') {
      throw new D7yError('D7Y_CONFIG_NOT_FOUND', `proxy CA file ${file} does not exist`, {
        fix: 'check the path of the proxy CA certFile/keyFile setting', cause: err,
      });
    }
    throw new D7yError('D7Y_PERMISSION_DENIED', `cannot read proxy CA file ${file}: ${code ?? String(err)}`, {
      fix: 'give the user d7y runs as read access to the file', cause: err,
    });
  }
}

/** Parses and checks a CA pair: a PEM CA certificate, valid now, allowed to sign, and the key it was made with. */
async function checkPair(certPem: string, keyPem: string, certFile: string, keyFile: string, origin: Origin): Promise<Omit<CaPair, 'generated'>> {
  const fix = fixFor(origin, certFile, keyFile);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${certFile} is not a PEM certificate (${(err as Error).message})`, { fix, cause: err });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${keyFile} is not a PEM private key (unencrypted PKCS#8, EC or RSA) (${(err as Error).message})`, { fix, cause: err });
  }
  if (!cert.checkPrivateKey(key)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the private key in ${keyFile} does not belong to the certificate in ${certFile}`, { fix });
  }
  if (!cert.ca || !(await allowsCertSigning(certPem))) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${certFile} is not a CA certificate that may sign others (it needs basicConstraints CA:true and keyCertSign)`, { fix });
  }
  const now = Date.now();
  if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the proxy CA ${certFile} is valid only from ${cert.validFrom} to ${cert.validTo}`, { fix });
  }
  return { certPem: cert.toString(), cert, key, certFile, keyFile };
}

/** Writes `data` to a temporary file beside `file` (mode `mode`, flushed to disk) and returns its path. */
async function writeTemp(file: string, data: string, mode: number): Promise<string> {
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return tmp;
}

/**
 * Makes a new CA in `certFile`/`keyFile`. The key is placed first with link(), which fails when
 * another process placed one first: then that process's key is used. A key without a certificate
 * (this or another process stopped between the two steps) gets a new self-signed certificate.
 */
async function createPair(certFile: string, keyFile: string, logger: Logger): Promise<void> {
  const commonName = `d7y proxy CA (${hostname().slice(0, 48)})`;
  const fresh = await mintCaCertificate(commonName, GENERATED_CA_DAYS);
  const tmpKey = await writeTemp(keyFile, fresh.keyPem, 0o600);
  try {
    await link(tmpKey, keyFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(tmpKey);
  }
  if ((await readOptional(certFile, 'generated')) !== undefined) return;
  const keyPem = await readFile(keyFile, 'utf8');
  const certPem = keyPem === fresh.keyPem ? fresh.certPem : (await mintForKey(commonName, keyPem, keyFile)).certPem;
  await rename(await writeTemp(certFile, certPem, 0o644), certFile);
  logger.info({ certFile, keyFile }, 'proxy: made a new CA; clients that should trust it need its certificate (d7y proxy ca)');
}

/** A self-signed CA for a key already on disk (whose certificate was never written). */
async function mintForKey(commonName: string, keyPem: string, keyFile: string) {
  try {
    return await mintCaCertificate(commonName, GENERATED_CA_DAYS, keyPem);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${keyFile} is not the PEM ECDSA P-256 key d7y makes for its proxy CA (${(err as Error).message})`, {
      fix: `delete ${keyFile} so that d7y makes a new CA`, cause: err,
    });
  }
}

/**
 * The CA in `certFile`/`keyFile` given by the user (both must exist), else the one d7y keeps in
 * `<dir>/proxy-ca.crt` and `<dir>/proxy-ca.key` (made on first use, the key 0600). Every problem
 * is a D7yError naming the file and the fix.
 */
export async function loadCaPair(opts: { dir: string; certFile?: string; keyFile?: string; logger: Logger }): Promise<CaPair> {
  if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the proxy CA needs both a certificate and a key file; only the ${opts.certFile ? 'certificate' : 'key'} was given`, {
      fix: 'set both certFile and keyFile, or neither to let d7y make its own CA',
    });
  }
  if (opts.certFile !== undefined && opts.keyFile !== undefined) {
    const [certPem, keyPem] = [await readOptional(opts.certFile, 'user'), await readOptional(opts.keyFile, 'user')];
    return { ...(await checkPair(certPem!, keyPem!, opts.certFile, opts.keyFile, 'user')), generated: false };
  }
  const certFile = join(opts.dir, 'proxy-ca.crt');
  const keyFile = join(opts.dir, 'proxy-ca.key');
  let certPem = await readOptional(certFile, 'generated');
  let keyPem = await readOptional(keyFile, 'generated');
  if (certPem !== undefined && keyPem === undefined) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the proxy CA key ${keyFile} is missing while its certificate ${certFile} exists`, {
      fix: `restore ${keyFile}, or delete ${certFile} so that d7y makes a new CA (clients must then trust the new one)`,
    });
  }
  let generated = false;
  if (certPem === undefined) {
    await mkdir(opts.dir, { recursive: true });
    await createPair(certFile, keyFile, opts.logger);
    [certPem, keyPem] = [await readOptional(certFile, 'generated'), await readOptional(keyFile, 'generated')];
    generated = true;
  }
  const pair = await checkPair(certPem!, keyPem!, certFile, keyFile, 'generated');
  if (((await stat(keyFile)).mode & 0o077) !== 0) {
    opts.logger.warn({ keyFile }, `proxy: the CA key can be read by other users; chmod 600 ${keyFile}`);
  }
  return { ...pair, generated };
}
