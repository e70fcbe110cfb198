/**
 * Whether a path is one of `urls` (the balancer's own routes), as Fastify's
 * router matches them (case and trailing slash count; a `/x/*` route takes
 * every path under `/x/`). The fast path asks it of every request it reads;
 * a path with %-escapes is never asked: the fast path leaves it to the router.
 */
export function ownPathMatcher (urls: Iterable<string>): (path: string) => boolean {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const url of urls) {
    if (url.includes(':')) throw new Error(`a parametric own route (${url}) needs the router: the fast path cannot tell it`)
    if (url.endsWith('*')) prefixes.push(url.slice(0, -1))
    else exact.add(url)
  }
  return (path) => exact.has(path) || prefixes.some(prefix => path.startsWith(prefix))
}
