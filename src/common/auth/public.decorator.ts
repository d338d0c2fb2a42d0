import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'vcp:isPublic';

/** Opts a route out of the global authentication guard. Everything else requires a principal. */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);
