/** Pieces of the WebAssembly binary format, for tests that write modules byte by byte. */
export const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

export { leb } from '../../bench/support/leb128';
import { leb } from '../../bench/support/leb128';
export const name = (s: string) => [...leb(s.length), ...Buffer.from(s)];
export const vector = (items: number[][]) => [...leb(items.length), ...items.flat()];
export const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
