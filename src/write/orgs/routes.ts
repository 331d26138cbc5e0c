import type { WriteRoute } from '../http/route.js'

/** The routes of organizations, members, model enrolment, balance, expenditure. To be built. */
export const organizationRoutes: WriteRoute[] = []
