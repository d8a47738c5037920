import test from 'ava';
import { matchesHostPattern } from './origin-tls.js';

test('insecureSkipVerifyHosts patterns match a host, a host and port, or the names under a domain, and nothing else', (t) => {
  t.true(matchesHostPattern('origin.internal', 'origin.internal', '443'));
  t.true(matchesHostPattern('Origin.Internal', 'origin.internal', '8443'), 'case does not matter');
  t.true(matchesHostPattern('origin.internal:8443', 'origin.internal', '8443'));
  t.false(matchesHostPattern('origin.internal:8443', 'origin.internal', '443'), 'another port is not skipped');
  t.true(matchesHostPattern('*.lab.example', 'a.lab.example', '443'));
  t.true(matchesHostPattern('*.lab.example', 'b.a.lab.example', '443'));
  t.false(matchesHostPattern('*.lab.example', 'lab.example', '443'), 'the domain itself is not under it');
  t.false(matchesHostPattern('*.lab.example', 'evil-lab.example', '443'));
  t.true(matchesHostPattern('127.0.0.1', '127.0.0.1', '9443'));
  t.true(matchesHostPattern('[::1]:9443', '[::1]', '9443'));
  t.false(matchesHostPattern('origin.internal', 'origin.internal.evil', '443'));
});
