import type Redis from 'ioredis';

/**
 * Closes an ioredis client on shutdown. QUIT only when connected (pending replies are read first); otherwise
 * the connection is dropped at once: a QUIT on a client that is reconnecting waits in the offline queue, behind
 * commands that wait for Redis however long it is away (maxRetriesPerRequest: null), and shutdown with it.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    drop(client);
    return;
  }
  try {
    await client.quit();
  } catch {
    drop(client); // the connection broke during QUIT: nothing is left to flush
  }
}

/**
 * ioredis's disconnect() only half-closes its socket and keeps a 2 s timer to destroy it: a Redis that stopped
 * answering (paused, or a dead link) never closes its side, so the socket and the timer would outlive the app.
 */
function drop(client: Redis): void {
  if (client.status === 'end') return; // closed before (a refused database): disconnect() would only start a timer
  client.disconnect();
  (client.stream as Redis['stream'] | undefined)?.destroy();
}
