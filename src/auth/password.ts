import { Injectable } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { registerDecorator, ValidationOptions } from 'class-validator';
import { AuthConfig } from './auth.config';

export const PASSWORD_MIN_BYTES = 8;
/** bcrypt reads only the first 72 bytes: longer passwords are refused rather than silently truncated. */
export const PASSWORD_MAX_BYTES = 72;

export function passwordProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.includes('\0')) return 'must not contain NUL characters';
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
    return `must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes of UTF-8 (it is ${bytes})`;
  }
  return null;
}

/** A password bcrypt cannot judge whole: over 72 bytes (it would compare a prefix) or holding NUL. */
export function isBeyondBcrypt(password: string): boolean {
  return password.includes('\0') || Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES;
}

export function IsPassword(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isPassword',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => passwordProblem(value) === null,
        defaultMessage: (args) =>
          `${args?.property ?? 'password'} ${passwordProblem(args?.value) ?? 'is invalid'}`,
      },
    });
}

/** bcrypt through its async API only, so hashing runs on libuv's pool and never blocks the event loop. */
@Injectable()
export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;

  constructor(private readonly config: AuthConfig) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.config.bcryptCost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  /**
   * Unknown users are checked against this hash of a random value at the same cost, so "no such user" and
   * "wrong password" take the same time and an attacker cannot enumerate accounts by timing.
   */
  dummy(): Promise<string> {
    this.dummyHash ??= bcrypt.hash(randomBytes(32).toString('hex'), this.config.bcryptCost);
    return this.dummyHash;
  }
}
