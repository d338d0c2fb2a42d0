import { ValidateBy } from 'class-validator';

/**
 * Names the server keeps for what it creates itself: its accounts (`system_embedded_<n>`, the embedded nodes'
 * owners) and its embedded nodes (`embedded-<n>`). A user holding one first would stop that embedded node from
 * starting, so registration refuses the whole families, ignoring case as the unique indexes do.
 */
export const SYSTEM_ACCOUNT_PREFIX = 'system_';
export const EMBEDDED_NODE_ID_PREFIX = 'embedded-';

const RESERVED_USERNAME = new RegExp(`^${SYSTEM_ACCOUNT_PREFIX}`, 'i');
const RESERVED_NODE_ID = new RegExp(`^${EMBEDDED_NODE_ID_PREFIX}[0-9]+$`, 'i');

export function isReservedUsername(value: unknown): boolean {
  return typeof value === 'string' && RESERVED_USERNAME.test(value);
}

export function isReservedNodeId(value: unknown): boolean {
  return typeof value === 'string' && RESERVED_NODE_ID.test(value);
}

/** 422 when the username starts with `system_` (any case). */
export function IsNotReservedUsername(): PropertyDecorator {
  return ValidateBy({
    name: 'isNotReservedUsername',
    validator: {
      validate: (value: unknown) => !isReservedUsername(value),
      defaultMessage: () =>
        `usernames starting with "${SYSTEM_ACCOUNT_PREFIX}" are reserved for the server's own accounts`,
    },
  });
}

/** 422 when the node id is `embedded-<n>` (any case). */
export function IsNotReservedNodeId(): PropertyDecorator {
  return ValidateBy({
    name: 'isNotReservedNodeId',
    validator: {
      validate: (value: unknown) => !isReservedNodeId(value),
      defaultMessage: () =>
        `node ids "${EMBEDDED_NODE_ID_PREFIX}<n>" are reserved for the server's embedded nodes`,
    },
  });
}
