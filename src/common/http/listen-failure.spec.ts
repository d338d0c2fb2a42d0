import { SettingsError } from '../config/problems';
import { listenFailure } from './listen-failure';

const failed = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

describe('listenFailure', () => {
  it.each([
    ['ENOTFOUND', 'HOST=box.example is not a known host name'],
    ['EAI_AGAIN', 'HOST=box.example could not be resolved (the name service did not answer)'],
    ['EADDRNOTAVAIL', 'HOST=box.example is not an address of this machine'],
    ['EACCES', 'PORT=80 on box.example needs privileges this process does not have'],
  ])('%s is a setting to fix (exit 78), named in one sentence', (code, message) => {
    const error = listenFailure(failed(code), 'box.example', 80);
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.message).toBe(message);
  });

  it('a port in use is not a setting (a restart may find it free) and names host and port', () => {
    const error = listenFailure(failed('EADDRINUSE'), '127.0.0.1', 3000);
    expect(error).not.toBeInstanceOf(SettingsError);
    expect(error.message).toBe('PORT=3000 on 127.0.0.1 is already in use by another process');
  });

  it('anything else is passed on as it is', () => {
    const other = failed('EMFILE');
    expect(listenFailure(other, 'h', 1)).toBe(other);
    expect(listenFailure('text', 'h', 1).message).toBe('text');
  });
});
