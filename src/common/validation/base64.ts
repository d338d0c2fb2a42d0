// Standard alphabet with correct padding only: Buffer.from(…, 'base64') silently skips anything else, so a
// lenient decode would accept text that is not the base64 the client meant.
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isStandardBase64(text: string): boolean {
  return STANDARD_BASE64.test(text);
}

/** How many base64 characters encode `bytes` bytes (with padding). */
export const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;
