import test from 'ava';
import { isD7yError } from '../errors/d7y-error.js';
import { definePlugin, isDefinedPlugin, type D7yPlugin } from './plugin.js';

function handMade(): D7yPlugin {
  return {
    manifest: { name: 'echo', version: '1.0.0', kind: 'source', apiVersion: '1', roles: ['peer'], provides: ['source:echo'] },
    register() {},
  };
}

test('definePlugin returns the plugin it was given, marked, with its enumerable shape unchanged', (t) => {
  const plain = handMade();
  const defined = definePlugin(plain);
  t.is(defined, plain);
  t.true(isDefinedPlugin(defined));
  t.deepEqual(Object.keys(defined), ['manifest', 'register']);
  t.is(JSON.stringify(defined), JSON.stringify(handMade()));
  t.is(definePlugin(defined), defined, 'defining twice changes nothing');
});

test('an object not made by definePlugin is not taken for one', (t) => {
  t.false(isDefinedPlugin(handMade()));
  t.false(isDefinedPlugin({ ...definePlugin(handMade()) }), 'a copy loses the mark');
  t.false(isDefinedPlugin(null));
  t.false(isDefinedPlugin('plugin'));
});

test('definePlugin marks a frozen plugin too, keeping its manifest and register', (t) => {
  const frozen = Object.freeze(handMade());
  const defined = definePlugin(frozen);
  t.true(isDefinedPlugin(defined));
  t.is(defined.manifest, frozen.manifest);
  t.is(defined.register, frozen.register);
});

test('definePlugin refuses something that is not a plugin and says what it needs', (t) => {
  const err = t.throws(() => definePlugin({ manifest: handMade().manifest } as unknown as D7yPlugin));
  t.true(isD7yError(err, 'D7Y_PLUGIN_INVALID'), String(err));
  t.regex(err!.message, /manifest and a register\(ctx\) function/);
  t.regex((err as { fix?: string }).fix ?? '', /definePlugin\(\{ manifest: .*register\(ctx\)/);
});
