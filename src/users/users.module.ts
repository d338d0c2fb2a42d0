import { Module } from '@nestjs/common';
import { ClockModule } from '../common/clock/clock.module';
import { UserStatusCache } from './user-status.cache';
import { UsersRepository } from './users.repository';

@Module({
  imports: [ClockModule],
  providers: [UsersRepository, UserStatusCache],
  exports: [UsersRepository, UserStatusCache],
})
export class UsersModule {}
