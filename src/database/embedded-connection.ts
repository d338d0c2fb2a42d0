import { EventEmitter } from 'node:events';
import { serialize } from 'pg-protocol';

/** A backend message as PGlite's parser hands it over (the shapes node-postgres's own parser makes). */
interface BackendMessage {
  name: string;
}

/** What the connection needs of a PGlite instance. */
export interface PGliteProtocol {
  readonly waitReady: Promise<void>;
  execProtocolStream(message: Uint8Array, options: { throwOnError: boolean }): Promise<BackendMessage[]>;
}

type Serializer = typeof serialize;

/**
 * The node-postgres connection to the embedded database, in place of PGlite's own adapter: the same contract
 * (pg calls parse/bind/describe/execute/sync, it emits backend messages by name; one object shared by the
 * pool's one client), except that the messages pg writes in one synchronous run are sent to PGlite as one
 * batch, as a socket would carry them. PGlite's adapter made one `execProtocolStream` call per message: a
 * prepared statement's bind, describe, execute and sync were four passes through PGlite's lock, four wasm
 * calls and four file-system syncs where one does (bench/README.md).
 */
export class EmbeddedConnection extends EventEmitter {
  /** pg's Client.end() skips connection.end() without it. */
  _connecting = false;
  /** pg's Client.end() destroys the stream when a query is still active. */
  readonly stream = { destroy: () => this.end() };
  /** pg records here which named statements this session has prepared. */
  parsedStatements: Record<string, string> = {};
  submittedNamedStatements: Record<string, string> = {};

  private queue: Promise<unknown>;
  private batch: Buffer[] = [];
  private emitsMessage = false;

  constructor(private readonly pglite: PGliteProtocol) {
    super();
    this.queue = pglite.waitReady;
    this.on('newListener', (event) => {
      if (event === 'message') this.emitsMessage = true;
    });
  }

  async connect(): Promise<void> {
    this._connecting = true;
    await this.pglite.waitReady;
    process.nextTick(() => this.emit('readyForQuery'));
  }

  query(text: string): void {
    this.send(serialize.query(text));
  }
  parse(query: Parameters<Serializer['parse']>[0]): void {
    this.send(serialize.parse(query));
  }
  bind(config: Parameters<Serializer['bind']>[0]): void {
    this.send(serialize.bind(config));
  }
  execute(config: Parameters<Serializer['execute']>[0]): void {
    this.send(serialize.execute(config));
  }
  describe(message: Parameters<Serializer['describe']>[0]): void {
    this.send(serialize.describe(message));
  }
  close(message: Parameters<Serializer['close']>[0]): void {
    this.send(serialize.close(message));
  }
  flush(): void {
    this.send(serialize.flush());
  }
  sync(): void {
    this.send(serialize.sync());
  }
  sendCopyFromChunk(chunk: Buffer): void {
    this.send(serialize.copyData(chunk));
  }
  endCopyFrom(): void {
    this.send(serialize.copyDone());
  }
  sendCopyFail(message: string): void {
    this.send(serialize.copyFail(message));
  }
  sendSASLInitialResponseMessage(mechanism: string, initialResponse: string): void {
    this.send(serialize.sendSASLInitialResponseMessage(mechanism, initialResponse));
  }
  sendSCRAMClientFinalMessage(additionalData: string): void {
    this.send(serialize.sendSCRAMClientFinalMessage(additionalData));
  }

  /** Like a socket closing: pg waits for 'end'. PGlite itself stays open (the data source closes it). */
  end(): void {
    this.sendBatch();
    this.queue = this.queue.then(() => this.emit('end'));
    // The pool reuses this object for its next client: the ended client's listeners must not get its messages.
    for (const event of this.eventNames()) if (event !== 'newListener') this.removeAllListeners(event);
    this.emitsMessage = false;
  }

  // A socket's other duties, which an in-process session does not have.
  requestSsl(): void {}
  startup(): void {}
  password(): void {}
  cancel(): void {}
  ref(): void {}
  unref(): void {}

  private send(message: Buffer): void {
    if (this.batch.push(message) === 1) queueMicrotask(() => this.sendBatch());
  }

  private sendBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch.length === 1 ? this.batch[0] : Buffer.concat(this.batch);
    this.batch = [];
    this.queue = this.queue
      .then(() => this.pglite.execProtocolStream(batch, { throwOnError: false }))
      .then((messages) => {
        for (const message of messages) {
          if (this.emitsMessage) this.emit('message', message);
          this.emit(message.name === 'error' ? 'errorMessage' : message.name, message);
        }
      })
      .catch((error: unknown) => this.emit('error', error));
  }
}
