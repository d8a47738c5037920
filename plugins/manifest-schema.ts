import { z } from 'zod';
import { PLUGIN_KINDS, ROLE_NAMES } from '../core/index.js';

/** What a plugin manifest must look like; `provides` entries must be of the plugin's own kind. */
export const ManifestSchema = z.object({
  name: z.string().min(1).regex(/^[a-z0-9@][a-z0-9._/-]*$/i, 'expected a plugin name such as "my-source"'),
  version: z.string().regex(/^\d+\.\d+\.\d+([-+].*)?$/, 'expected a semver version such as "1.0.0"'),
  kind: z.enum(PLUGIN_KINDS),
  apiVersion: z.string().min(1),
  roles: z.array(z.enum(ROLE_NAMES)).min(1),
  provides: z.array(z.string().regex(/^(source|evaluator|storage):[A-Za-z0-9+._-]+$/, 'expected "<kind>:<name>", e.g. "source:s3"')).min(1),
  requires: z.array(z.string().regex(/^(source|evaluator|storage):[A-Za-z0-9+._-]+$/, 'expected "<kind>:<name>"')).optional(),
  description: z.string().optional(),
}).superRefine((m, ctx) => {
  m.provides.forEach((cap, i) => {
    if (!cap.startsWith(`${m.kind}:`)) {
      ctx.addIssue({ code: 'custom', path: ['provides', i], message: `a ${m.kind} plugin can only provide "${m.kind}:…" capabilities, not "${cap}"` });
    }
  });
});
