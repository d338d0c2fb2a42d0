import FindMyWay, { HTTPMethod } from 'find-my-way';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';

/** Fastify's router options (createFastifyAdapter); the templates router below matches paths with the same. */
export const ROUTER_OPTIONS = { ignoreTrailingSlash: true } as const;

/** The route label of responses that matched no route: one series (and one log value) however many paths. */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS: readonly HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const byServer = new WeakMap<object, RouteTemplates>();

/**
 * The route template a response is labelled with in the HTTP metrics and the request line. A routed request has
 * Fastify's matched template. A 405 has none (Nest's not-found handler answered it), yet its path is a known
 * one: it gets the template of that path under another method, from a second router fed the same routes,
 * because Fastify's `findRoute` says whether a path matches but not which template. Never the raw path.
 */
export class RouteTemplates {
  // Only the template is wanted: a parameter as long as Fastify's own router takes (it answers those 414) must match.
  private readonly router = FindMyWay({ ...ROUTER_OPTIONS, maxParamLength: Number.MAX_SAFE_INTEGER });

  private constructor() {}

  /** The instance of `fastify`'s app; the first call must come before the routes are registered. */
  static of(fastify: FastifyInstance): RouteTemplates {
    let templates = byServer.get(fastify);
    if (!templates) {
      const created = new RouteTemplates();
      fastify.addHook('onRoute', (route: RouteOptions) => created.add(route));
      byServer.set(fastify, (templates = created));
    }
    return templates;
  }

  /**
   * The template of `request`'s route, or undefined for a request that matched no route (a 404). `matched` is
   * `request.routeOptions.url`, read once by the caller: Fastify builds that object anew on every access.
   */
  labelOf(request: FastifyRequest, matched: string | undefined, status: number): string | undefined {
    if (matched !== undefined || status !== 405) return matched;
    const path = request.url.split('?')[0];
    for (const method of METHODS) {
      const found = this.router.find(method, path);
      if (found) return found.store as string;
    }
    return undefined;
  }

  /**
   * The template of a request Node's parser refused (a body cut off or too slow: 400, 408) that Fastify would
   * have routed, from its method and URL; undefined when they name no route or could not be told.
   */
  templateOf(method: string | undefined, url: string | undefined): string | undefined {
    const known = METHODS.find((candidate) => candidate === method);
    if (!known || url === undefined) return undefined;
    return this.router.find(known, url.split('?')[0])?.store as string | undefined;
  }

  private add(route: RouteOptions): void {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const known = METHODS.find((candidate) => candidate === method.toUpperCase());
      if (known && !this.router.hasRoute(known, route.url))
        this.router.on(known, route.url, () => undefined, route.url);
    }
  }
}
