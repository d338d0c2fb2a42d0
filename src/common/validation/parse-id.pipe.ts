import { PipeTransform } from '@nestjs/common';
import { AppException } from '../errors/app.exception';
import { refuseAfterOtherParameters } from './pipe-order';
import { isSha256Hex } from './sha256';
import { isUuid } from './uuid';

/**
 * A path id that cannot name anything answers exactly like an id that names nothing: 404 with the route's
 * own message, so the shape of ids reveals nothing and a malformed one never reaches SQL.
 */
class ParseIdPipe implements PipeTransform<string, Promise<string>> {
  constructor(
    private readonly isId: (value: string) => boolean,
    private readonly notFoundMessage: string,
  ) {}

  async transform(value: string): Promise<string> {
    if (this.isId(value)) return value;
    // An invalid body stays the 422 it was when services checked ids; a malformed id alone is the 404.
    return refuseAfterOtherParameters(AppException.notFound(this.notFoundMessage));
  }
}

/**
 * `@Param('key_id', new ParseUuidPipe('API key not found'))`. Either case is accepted, and the id is passed on
 * lowercased, as stored: a handler comparing it with stored ids (a cache to clear on revocation, an echo) must
 * not miss the one it names because of its spelling.
 */
export class ParseUuidPipe extends ParseIdPipe {
  constructor(notFoundMessage: string) {
    super(isUuid, notFoundMessage);
  }

  override async transform(value: string): Promise<string> {
    return (await super.transform(value)).toLowerCase();
  }
}

/** For ids that are SHA-256 hashes (circuits): the same 404 for a malformed id as for an unknown one. */
export class ParseSha256Pipe extends ParseIdPipe {
  constructor(notFoundMessage: string) {
    super(isSha256Hex, notFoundMessage);
  }
}
