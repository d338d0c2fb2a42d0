import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions, dataSourceFromOptions } from './data-source.factory';

/** The database connection; pending migrations run while the DataSource initialises, before the app listens. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => buildDataSourceOptions(config),
      dataSourceFactory: (options?: DataSourceOptions) => dataSourceFromOptions(options!).initialize(),
    }),
  ],
})
export class DatabaseModule {}
