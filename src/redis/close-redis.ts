import type Redis from 'ioredis';

/**
 * Closes an ioredis client on shutdown. QUIT only when connected (pending replies are read first); otherwise
 * the connection is dropped at once: a QUIT on a client that is reconnecting waits in the offline queue, behind
 * commands that wait for Redis however long it is away (maxRetriesPerRequest: null), and shutdown with it.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect(); // the connection broke during QUIT: nothing is left to flush
  }
}
