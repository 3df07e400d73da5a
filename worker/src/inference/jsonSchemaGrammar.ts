import { BackendRequestError } from './types';

/**
 * What of an app's JSON schema the embedded engine can enforce while it
 * generates (node-llama-cpp turns the schema into a grammar, so every answer
 * parses and validates, unless max_tokens cuts it short). A keyword it cannot
 * enforce is refused by name rather than ignored: an answer that "follows
 * the schema" except for a `pattern` or a `minimum` would break the app's
 * parser in the field.
 */

/** Keywords enforced by the grammar. */
const ENFORCED = new Set([
    'type',
    'properties',
    'required',
    'additionalProperties',
    'minProperties',
    'maxProperties',
    'items',
    'prefixItems',
    'minItems',
    'maxItems',
    'minLength',
    'maxLength',
    'format',
    'enum',
    'const',
    'oneOf',
    'anyOf',
    '$defs',
    '$ref',
]);

/** Keywords that constrain nothing (annotations): left out of the grammar. */
const ANNOTATIONS = new Set(['title', 'description', '$schema', '$id', '$comment', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly']);

const FORMATS = new Set(['date-time', 'date', 'time']);

/** Keywords whose value is a schema, a list of schemas, or a map of names to schemas. */
const ONE = new Set(['items']);
const MANY = new Set(['prefixItems', 'oneOf', 'anyOf']);
const MAP = new Set(['properties', '$defs']);

function refuse(path: string, why: string): never {
    throw new BackendRequestError(`${path}: ${why}`, 400);
}

/**
 * The schema as the embedded engine's grammar takes it: annotations left
 * out, `anyOf` as the grammar's alternation (an answer matching one
 * alternative matches anyOf). Throws a 400 naming the first keyword or value
 * it cannot enforce. An empty schema (any JSON) gives undefined: the caller
 * uses the plain JSON grammar.
 */
export function grammarSchemaOf(schema: Record<string, unknown>, where = 'response_format.json_schema.schema'): Record<string, unknown> | undefined {
    if (Object.keys(schema).every((k) => ANNOTATIONS.has(k))) return undefined;
    return translate(schema, where);
}

function translate(node: unknown, path: string): Record<string, unknown> {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) refuse(path, 'must be a JSON schema object');
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
        const at = `${path}.${key}`;
        if (ANNOTATIONS.has(key)) {
            if (key === 'description') out[key] = value;
            continue;
        }
        if (!ENFORCED.has(key)) refuse(at, `not supported by this worker's embedded engine, which enforces ${[...ENFORCED].join(', ')}`);
        if (key === 'format' && !FORMATS.has(value as string)) refuse(at, `only ${[...FORMATS].join(', ')} can be enforced`);
        const name = key === 'anyOf' ? 'oneOf' : key;
        if (name in out) refuse(at, 'oneOf and anyOf together cannot be enforced');
        if (ONE.has(key) || (key === 'additionalProperties' && typeof value === 'object')) out[name] = translate(value, at);
        else if (MANY.has(key)) {
            if (!Array.isArray(value) || value.length === 0) refuse(at, 'must be a non-empty array of schemas');
            out[name] = value.map((v, i) => translate(v, `${at}.${i}`));
        } else if (MAP.has(key)) {
            if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse(at, 'must map names to schemas');
            out[name] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, translate(v, `${at}.${k}`)]));
        } else out[name] = value;
    }
    if (Object.keys(out).every((k) => k === 'description')) refuse(path, 'an empty schema (any value) can only be the whole schema');
    return out;
}
