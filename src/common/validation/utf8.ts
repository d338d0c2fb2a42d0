import { isUtf8 } from 'node:buffer';

/**
 * The offset of the first byte that does not begin a well-formed UTF-8 sequence, or null when all of them do.
 * Decoding would replace such bytes with U+FFFD silently, so a client's text (and its hash) would change.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number | null {
  if (isUtf8(bytes)) return null;
  let at = 0;
  while (at < bytes.length) {
    const lead = bytes[at];
    const length =
      lead < 0x80
        ? 1
        : lead >= 0xc2 && lead <= 0xdf
          ? 2
          : lead >= 0xe0 && lead <= 0xef
            ? 3
            : lead >= 0xf0 && lead <= 0xf4
              ? 4
              : 0;
    // isUtf8 on the one sequence refuses overlong forms, surrogates and a sequence cut short.
    if (length === 0 || !isUtf8(bytes.subarray(at, at + length)) || at + length > bytes.length) return at;
    at += length;
  }
  return at;
}
