import type { Context } from 'koa'

interface RoutedContext {
  _matchedRoute?: string | RegExp
  matched?: { path: string | RegExp; methods: string[] }[]
}

/**
 * The route pattern a request matched (`/v1/products/:id`), set by @koa/router; for a path
 * that matched a route only under another method (a 405), that route's pattern; otherwise
 * undefined. Patterns, unlike paths, are few: safe as a metric label.
 */
export function routePattern(ctx: Context): string | undefined {
  const routed = ctx as Context & RoutedContext
  if (routed._matchedRoute !== undefined) return String(routed._matchedRoute)
  const route = routed.matched?.findLast((layer) => layer.methods.length > 0)
  return route ? String(route.path) : undefined
}
