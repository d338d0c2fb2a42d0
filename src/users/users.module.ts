import { Global, Module } from '@nestjs/common';
import { UserStatusCache } from './user-status.cache';
import { UsersRepository } from './users.repository';

@Global()
@Module({ providers: [UsersRepository, UserStatusCache], exports: [UsersRepository, UserStatusCache] })
export class UsersModule {}
