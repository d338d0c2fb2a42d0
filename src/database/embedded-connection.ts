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
 * calls and four file-system syncs where one does (bench/README.md). And a prepared statement's Describe is
 * sent once per session, its answer replayed after that (see `plan`).
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
  private batch: Outgoing[] = [];
  private emitsMessage = false;
  /** What a named statement's portal describes as (its RowDescription, or NoData), learned once per session. */
  private readonly descriptions = new Map<string, BackendMessage>();

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
    // Keyed with the result format too: a description carries the format codes of the answer it described.
    const statement = config?.statement ? `${config.statement}${config.binary ? ' (binary)' : ''}` : '';
    this.send(serialize.bind(config), { bind: statement });
  }
  execute(config: Parameters<Serializer['execute']>[0]): void {
    this.send(serialize.execute(config));
  }
  describe(message: Parameters<Serializer['describe']>[0]): void {
    this.send(serialize.describe(message), { describesPortal: message.type === 'P' });
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

  private send(message: Buffer, about: Omit<Outgoing, 'message'> = {}): void {
    if (this.batch.push({ message, ...about }) === 1) queueMicrotask(() => this.sendBatch());
  }

  private sendBatch(): void {
    if (this.batch.length === 0) return;
    const { messages, replay, learn } = this.plan(this.batch);
    this.batch = [];
    const batch = messages.length === 1 ? messages[0] : Buffer.concat(messages);
    this.queue = this.queue
      .then(() => this.pglite.execProtocolStream(batch, { throwOnError: false }))
      .then((answers) => {
        for (const answer of answers) {
          if (learn && (answer.name === 'rowDescription' || answer.name === 'noData')) {
            this.descriptions.set(learn, answer);
          }
          this.deliver(answer);
          if (replay && answer.name === 'bindComplete') this.deliver(replay);
        }
      })
      .catch((error: unknown) => this.emit('error', error));
  }

  /**
   * pg describes the portal on every execution of a prepared statement, and PGlite parses the answer in
   * JavaScript each time (~4 µs a column). A named statement's result shape cannot change (PostgreSQL refuses a
   * cached plan whose result type changed), so after the first answer the Describe is left out and the answer
   * it got is replayed right after BindComplete, where the backend would have sent it. Only for a batch of one
   * statement (pg sends one at a time unless pipelining, which this app never turns on).
   */
  private plan(batch: Outgoing[]): { messages: Buffer[]; replay?: BackendMessage; learn?: string } {
    const binds = batch.filter((item) => item.bind !== undefined);
    const statement = binds.length === 1 ? binds[0].bind : '';
    if (!statement) return { messages: batch.map((item) => item.message) };
    const known = this.descriptions.get(statement);
    if (!known) return { messages: batch.map((item) => item.message), learn: statement };
    return {
      messages: batch.filter((item) => !item.describesPortal).map((item) => item.message),
      replay: known,
    };
  }

  private deliver(message: BackendMessage): void {
    if (this.emitsMessage) this.emit('message', message);
    this.emit(message.name === 'error' ? 'errorMessage' : message.name, message);
  }
}

/** A protocol message on its way to PGlite, with what the batch planner needs to know about it. */
interface Outgoing {
  message: Buffer;
  /** A Bind: the statement it binds ('' for the unnamed one). */
  bind?: string;
  /** A Describe of a portal. */
  describesPortal?: boolean;
}
