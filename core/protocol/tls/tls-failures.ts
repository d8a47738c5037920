import { D7yError } from '../../errors/d7y-error.js';
import type { NodeTls } from './node-tls.js';

/** What went wrong in a handshake, as far as the text of the error tells. */
type Kind = 'expired' | 'untrusted' | 'name' | 'no-client-cert' | 'refused-our-cert' | 'refused-our-expired-cert' | 'not-tls';

const PATTERNS: [RegExp, Kind][] = [
  [/CERT_HAS_EXPIRED|certificate has expired/i, 'expired'],
  [/ALERT_CERTIFICATE_EXPIRED|alert certificate expired/i, 'refused-our-expired-cert'],
  [/ALERT_CERTIFICATE_REQUIRED|certificate required|PEER_DID_NOT_RETURN_A_CERTIFICATE|did not return a certificate/i, 'no-client-cert'],
  [/ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|alert unknown ca|alert bad certificate|ALERT_DECRYPT_ERROR/i, 'refused-our-cert'],
  [/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer|certificate verify failed|CERTIFICATE_VERIFY_FAILED|certificate signature failure/i, 'untrusted'],
  [/ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match|does not match certificate's altnames/i, 'name'],
  [/WRONG_VERSION_NUMBER|wrong version number|HTTP_REQUEST|http request|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|unknown protocol|record layer failure/i, 'not-tls'],
];

function kindOf(text: string): Kind | undefined {
  return PATTERNS.find(([re]) => re.test(text))?.[1];
}

function textOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = [err.message, (err as NodeJS.ErrnoException).code ?? '', (err as { reason?: string }).reason ?? ''];
  if (err.cause) parts.push(textOf(err.cause));
  return parts.join(' ');
}

/** True when `err` (or its cause) is a TLS handshake failure this module can explain. */
export function isTlsFailure(err: unknown): boolean {
  return kindOf(textOf(err)) !== undefined;
}

/**
 * The client side of a failed handshake with `peer` (e.g. `scheduler 10.0.0.1:8002`): a
 * D7Y_UNAUTHENTICATED error naming the file of this node's setting at fault and the fix, or
 * undefined when `err` is no TLS failure. `tls`: this node's setting (none: it speaks plain TCP).
 */
export function clientSideFailure(err: unknown, peer: string, tls: NodeTls | undefined, o: { presentedCert?: boolean; tlsLink?: boolean } = {}): D7yError | undefined {
  const text = textOf(err);
  let kind = kindOf(text);
  // TLS 1.3 refuses a client certificate after the client's handshake ended: some clients only
  // see the connection close.
  if (!kind && o.tlsLink && /other side closed|socket hang up|ECONNRESET|UND_ERR_SOCKET/i.test(text)) {
    kind = o.presentedCert ? 'refused-our-cert' : 'no-client-cert';
  }
  if (!kind) return undefined;
  const ca = tls?.files.ca ?? 'security.tls.ca';
  const cert = tls?.files.cert ?? 'security.tls.cert';
  const make = (message: string, fix: string): D7yError => new D7yError('D7Y_UNAUTHENTICATED', `${peer}: TLS handshake failed: ${message}`, { cause: err, fix, details: { tls: kind } });
  switch (kind) {
    case 'expired':
      return make(`the certificate ${peer} presented has expired`, `renew the certificate of ${peer} (d7y cert issue … --force on the same files; it is reloaded without a restart)`);
    case 'untrusted':
      return make(`the certificate ${peer} presented is not signed by the CA in ${ca}`, `issue the certificate of ${peer} from the cluster CA (d7y cert issue), or set security.tls.ca to the CA that signed it`);
    case 'name':
      return make(`the certificate ${peer} presented does not name the address this node dialled`, `reissue the certificate of ${peer} with that address (d7y cert issue --ip <address> --dns <name>)`);
    case 'no-client-cert':
      return make(`${peer} requires a client certificate (security.tls.mode mutual) and this node presented none`, 'set security.tls.mode mutual with cert and key on this node (d7y cert issue makes them)');
    case 'refused-our-expired-cert':
      return make(`${peer} refused this node's certificate ${cert}: it has expired`, `renew ${cert} (d7y cert issue … --force); it is reloaded without a restart`);
    case 'refused-our-cert':
      return make(`${peer} refused this node's certificate ${cert}: it does not trust its issuer`, `issue ${cert} from the CA ${peer} trusts (its security.tls.ca), or give both nodes the same CA`);
    case 'not-tls':
      return make(`${peer} does not speak TLS on that port${tls ? '' : ', or this node does not'}`, 'set the same security.tls.mode (server or mutual) on every node of the cluster');
  }
}

/** The server side of a refused handshake: why, and what the client's owner should do. */
export function serverSideRefusal(err: unknown, tls: NodeTls): { reason: string; fix: string } {
  const kind = kindOf(textOf(err));
  switch (kind) {
    case 'no-client-cert':
      return { reason: 'the client presented no certificate (mode mutual)', fix: 'give the client a certificate from the cluster CA (security.tls.cert and key)' };
    case 'expired':
      return { reason: 'the client certificate has expired', fix: 'renew the client certificate (d7y cert issue … --force)' };
    case 'untrusted':
      return { reason: `the client certificate is not signed by the CA in ${tls.files.ca}`, fix: 'issue the client certificate from the cluster CA (d7y cert issue)' };
    case 'not-tls':
      return { reason: 'the client does not speak TLS', fix: 'set the same security.tls.mode on every node of the cluster' };
    case 'refused-our-cert':
    case 'refused-our-expired-cert':
      return { reason: `the client does not trust this node's certificate ${tls.files.cert ?? ''}`, fix: "give the client this cluster's CA (security.tls.ca)" };
    default:
      return { reason: (err as Error).message ?? String(err), fix: 'check that both sides use certificates of the same cluster CA' };
  }
}
