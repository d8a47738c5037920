import { z } from 'zod';
import type { ManagerRoute } from './manager-route.js';

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** An OpenAPI 3.1 document generated from the route table and its zod schemas. */
export function openApiDocument(routes: ManagerRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const params: unknown[] = [...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    for (const query of [r.query, r.dialect?.query]) {
      if (!query) continue;
      const q = jsonSchema(query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        if (query === r.query || !params.some((p) => (p as { name: string }).name === name)) {
          params.push({ name, in: 'query', required: query === r.query && (q.required?.includes(name) ?? false), schema });
        }
      }
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      tags: [r.path.startsWith('/oapi/') ? 'open' : 'console'],
      parameters: params,
      security: r.auth === 'public' ? [] : [{ [r.auth === 'pat' ? 'personalAccessToken' : 'session']: r.scope ? [r.scope] : [] }],
      'x-d7y-scope': r.scope, 'x-d7y-root-only': r.rootOnly ?? false, 'x-d7y-tenant-resource': r.resource,
      ...(r.dialect && { 'x-d7y-dialect': { name: r.dialect.name, when: r.dialect.when } }),
      responses: {
        [String(r.status ?? 200)]: { description: 'success', content: { 'application/json': { schema: {} } } },
        ...(r.body || r.query ? { 400: { $ref: '#/components/responses/Error' } } : {}),
        ...(r.auth === 'public' ? {} : { 401: { $ref: '#/components/responses/Error' }, 403: { $ref: '#/components/responses/Error' } }),
      },
    };
    if (r.body) {
      const schema = r.dialect?.body ? { oneOf: [jsonSchema(r.body), { ...jsonSchema(r.dialect.body), title: `${r.dialect.name} request` }] } : jsonSchema(r.body);
      op.requestBody = { required: true, content: { 'application/json': { schema } } };
    }
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'd7y manager API', version },
    paths,
    components: {
      securitySchemes: {
        session: { type: 'http', scheme: 'bearer', description: 'console session token from POST /api/v1/users/signin' },
        personalAccessToken: { type: 'http', scheme: 'bearer', description: 'personal access token with scopes job, cluster and/or persistent_cache' },
      },
      responses: {
        Error: {
          description: 'an error', content: { 'application/json': { schema: {
            type: 'object', required: ['code', 'message'],
            properties: { code: { type: 'string' }, message: { type: 'string' }, fix: { type: 'string' }, details: { type: 'object' } },
          } } },
        },
      },
    },
  };
}
