/**
 * A date-time example for fields that must lie in the future: without one, Swagger UI fills in the current
 * time, which the server refuses as already past by the time the request arrives.
 */
export const FAR_FUTURE_EXAMPLE = '2099-01-01T00:00:00Z';

/**
 * A WASI command of 160 bytes that writes {"hello":"world"} to stdout (fd_write of a data segment), so the
 * inline-module example runs as it is.
 */
export const HELLO_WASM_BASE64 =
  'AGFzbQEAAAABDAJgBH9/f38Bf2AAAAIjARZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCGZkX3dyaXRlAAADAgEBBQMBAAEHEwIGbWVtb3J5AgAGX3N0YXJ0AAEKHQEbAEEAQRA2AgBBBEESNgIAQQFBAEEBQQgQABoLCxgBAEEQCxJ7ImhlbGxvIjoid29ybGQifQo=';
