import { Module } from '@nestjs/common';
import { UserStatusCache } from './user-status.cache';
import { UsersRepository } from './users.repository';

@Module({ providers: [UsersRepository, UserStatusCache], exports: [UsersRepository, UserStatusCache] })
export class UsersModule {}
