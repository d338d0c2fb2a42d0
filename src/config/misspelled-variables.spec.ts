import 'reflect-metadata';
import { knownVariables, misspelledVariables } from './misspelled-variables';

describe('misspelledVariables', () => {
  it('knows the schemas’ variables and the generated tier names', () => {
    const known = knownVariables();
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'JWT_SECRET',
      'RATE_LIMIT_TASK_RPM',
      'NODE_OFFLINE_AFTER_SECS',
    ])
      expect([name, known.has(name)]).toEqual([name, true]);
  });

  it('names a variable one or two edits from a known one, with the name it probably meant', () => {
    expect(
      misspelledVariables({
        RATE_LIMIT_TSAK_RPM: '100', // swapped letters
        DATABSE_URL: 'postgres://x', // one left out
        LOG_LEVELS: 'debug', // one too many
      }),
    ).toEqual([
      'RATE_LIMIT_TSAK_RPM is not a setting of this service; did you mean RATE_LIMIT_TASK_RPM?',
      'DATABSE_URL is not a setting of this service; did you mean DATABASE_URL?',
      'LOG_LEVELS is not a setting of this service; did you mean LOG_LEVEL?',
    ]);
  });

  it('names a long single word one edit from a known one: ENVIROMENT would skip every production check', () => {
    expect(
      misspelledVariables({ ENVIROMENT: 'production', REGISTRATON: 'closed', APPVERSION: '1.0' }),
    ).toEqual([
      'ENVIROMENT is not a setting of this service; did you mean ENVIRONMENT?',
      'REGISTRATON is not a setting of this service; did you mean REGISTRATION?',
      'APPVERSION is not a setting of this service; did you mean APP_VERSION?',
    ]);
  });

  it('says nothing about the variables a shell, a container or npm sets', () => {
    const environment = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/home/node',
      HOSTNAME: '3f2a9c1b7d4e',
      TERM: 'xterm-256color',
      COLORTERM: 'truecolor',
      SHELL: '/bin/bash',
      USER: 'node',
      LOGNAME: 'node',
      LANG: 'C.UTF-8',
      LANGUAGE: 'en_US:en',
      LC_ALL: 'C.UTF-8',
      PWD: '/app',
      OLDPWD: '/',
      SHLVL: '1',
      TZ: 'UTC',
      EDITOR: 'vi',
      PAGER: 'less',
      MAIL: '/var/mail/node',
      TMPDIR: '/tmp',
      HISTSIZE: '1000',
      HISTFILE: '/home/node/.bash_history',
      HISTCONTROL: 'ignoreboth',
      container: 'docker',
      NODE_VERSION: '22.12.0',
      YARN_VERSION: '1.22.22',
      NODE_ENV: 'production',
      NODE_OPTIONS: '--max-old-space-size=512',
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      KUBERNETES_PORT: 'tcp://10.96.0.1:443',
      RENDER_SERVICE_NAME: 'vcp',
      SSH_AUTH_SOCK: '/tmp/ssh-agent.sock',
      XDG_RUNTIME_DIR: '/run/user/1000',
      DEBIAN_FRONTEND: 'noninteractive',
      npm_config_cache: '/home/node/.npm',
      npm_config_user_agent: 'npm/10.9.0 node/v22.12.0 linux x64',
      npm_execpath: '/usr/local/lib/node_modules/npm/bin/npm-cli.js',
      npm_lifecycle_event: 'start',
      npm_lifecycle_script: 'node dist/src/main.js',
      npm_node_execpath: '/usr/local/bin/node',
      npm_package_json: '/app/package.json',
      npm_package_name: 'vcp',
      npm_package_version: '0.1.0',
      INIT_CWD: '/app',
    };
    expect(misspelledVariables(environment)).toEqual([]);
  });

  it('leaves known names and unrelated variables alone', () => {
    const environment = {
      PORT: '3000',
      RATE_LIMIT_TASK_RPM: '100',
      PATH: '/usr/bin',
      HOME: '/root',
      HOSTNAME: 'box',
      NODE_OPTIONS: '--max-old-space-size=512',
      NODE_ENV: 'production',
      npm_config_cache: '/tmp',
    };
    expect(misspelledVariables(environment)).toEqual([]);
  });
});
