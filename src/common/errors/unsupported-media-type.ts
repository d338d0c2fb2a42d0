/** The 415's message: Fastify's words ("Unsupported Media Type") say what is wrong but not what would be right. */
export const UNSUPPORTED_MEDIA_TYPE =
  'Unsupported media type: send the body as JSON (Content-Type: application/json; a module upload also ' +
  'takes application/wasm)';
