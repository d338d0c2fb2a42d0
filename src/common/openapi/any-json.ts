/**
 * The OpenAPI form of a field that holds any JSON value, for `@ApiProperty({ ...ANY_JSON, description })`:
 * OpenAPI 3.0 has no "any" type, and a bare `unknown` is documented as an object, which a generated client then
 * insists on (a task's result can be a string).
 */
export const ANY_JSON = {
  nullable: true,
  oneOf: [
    { type: 'object', additionalProperties: true },
    { type: 'array', items: {} },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
  ],
};
