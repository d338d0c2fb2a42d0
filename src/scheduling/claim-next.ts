import { PipeTransform } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { refuseAfterOtherParameters } from '../common/validation/pipe-order';
import { RequestHeader } from '../common/validation/request-header';
import { MAX_CLAIM } from './dto/claim.dto';

const COUNT = /^[1-9][0-9]?$/;

/** Absent stays undefined; anything but a whole number 1..MAX_CLAIM is a 422 naming the header. */
export class ClaimNextPipe implements PipeTransform<unknown, Promise<number | undefined>> {
  async transform(value: unknown): Promise<number | undefined> {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && COUNT.test(value) && Number(value) <= MAX_CLAIM) return Number(value);
    return refuseAfterOtherParameters(
      AppException.invalidField('Claim-Next', `Claim-Next must be a whole number from 1 to ${MAX_CLAIM}`),
    );
  }
}

/**
 * A result's `Claim-Next: n` header: once the result is accepted, lease up to n more runs to the node in the
 * same request (no waiting), saving the agent a claim round trip per run.
 */
export const ClaimNext = (): ParameterDecorator => RequestHeader('claim-next', new ClaimNextPipe());
