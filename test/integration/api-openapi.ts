/** Validates real responses against the served OpenAPI document (ajv, JSON Schema 2020-12). */
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  constructor(private readonly doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> }) {
    this.ajv.addFormat('date-time', DATE_TIME);
    this.ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
    this.ajv.addSchema({ ...doc, $id: 'openapi.json' });
  }

  /** Asserts that `status` is documented for the operation and that `body` matches its JSON schema. */
  check(method: string, path: string, status: number, body: unknown): void {
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${path} is not in the OpenAPI document`);
    const resp = op.responses[String(status)];
    assert.ok(resp, `${method} ${path} -> ${status} is not documented`);
    if (status === 204) return;
    assert.ok(resp.content?.['application/json'], `${method} ${path} -> ${status} has no JSON schema`);
    const ptr = `openapi.json#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
    const validate = this.ajv.getSchema(ptr) ?? this.ajv.compile({ $ref: ptr });
    const ok = validate(body);
    assert.ok(ok, `${method} ${path} -> ${status}: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 400)}`);
  }
}
