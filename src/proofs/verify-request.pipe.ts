import { Injectable, PipeTransform } from '@nestjs/common';
import { validateDto } from '../common/validation/validate-dto';
import { VerifyProofBodyDto } from './dto/verify.dto';
import { parseVerifyRequest, VerifyRequest } from './verify-request';

/** The verify body: types and sizes by the DTO, then the form, its required fields and the base64 decoding. */
@Injectable()
export class VerifyRequestPipe implements PipeTransform<unknown, Promise<VerifyRequest>> {
  async transform(body: unknown): Promise<VerifyRequest> {
    return parseVerifyRequest(await validateDto(VerifyProofBodyDto, body));
  }
}
