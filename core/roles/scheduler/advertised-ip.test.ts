import test from 'ava';
import type { NetworkInterfaceInfo } from 'node:os';
import { advertisedIp } from './scheduler-role.js';

const nic = (address: string, internal: boolean, family: 'IPv4' | 'IPv6' = 'IPv4') => ({ address, internal, family }) as NetworkInterfaceInfo;
const HOST = { lo: [nic('127.0.0.1', true)], eth0: [nic('fe80::1', false, 'IPv6'), nic('10.0.0.7', false)] };

test('a scheduler listening on every address registers the host\'s own address, not 0.0.0.0', (t) => {
  t.is(advertisedIp({ host: '0.0.0.0' }, HOST), '10.0.0.7');
  t.is(advertisedIp({ host: '::' }, HOST), '10.0.0.7');
  t.is(advertisedIp({ host: '10.0.0.9' }, HOST), '10.0.0.9', 'a specific listen address is what peers dial');
  t.is(advertisedIp({ host: '0.0.0.0', advertiseIp: '192.0.2.4' }, HOST), '192.0.2.4', 'advertiseIp wins');
  const err = t.throws(() => advertisedIp({ host: '0.0.0.0' }, { lo: HOST.lo }));
  t.regex((err as { fix?: string }).fix ?? '', /scheduler\.listen\.advertiseIp/);
});
