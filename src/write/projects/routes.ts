import type { WriteRoute } from '../http/route.js'

/** The routes of projects, members, settings, product enablement, price per call. To be built. */
export const projectRoutes: WriteRoute[] = []
