/** haithe.v1.AnalyticsService over the read side: time series and leaderboards. */
import { addressPath, leaderboardQuery, parseParams, seriesQuery } from '../read/index.js'
import { given, params, unary, type ServiceContext } from './calls.js'
import type { AnalyticsServiceServer } from './gen/haithe/v1/analytics.js'
import { leaderboardEntryMessage, productStatsMessage, seriesPointMessage } from './messages.js'

export const ANALYTICS_SERVICE = 'haithe.v1.AnalyticsService'

interface SeriesRequest { address: string; granularity: string; from: string; to: string }
interface LeaderboardRequest { metric: string; window: string; limit?: number | undefined }

const address = (value: string) => parseParams(addressPath, { address: value }).address
const series = (r: SeriesRequest) => parseParams(seriesQuery, params({ granularity: given(r.granularity), from: given(r.from), to: given(r.to) }))
const leaderboard = (r: LeaderboardRequest) => parseParams(leaderboardQuery, params({ metric: given(r.metric), window: given(r.window), limit: r.limit }))

export function analyticsService(ctx: ServiceContext): AnalyticsServiceServer {
  const { reads } = ctx
  const call = <Req, Res>(method: string, run: (request: Req) => Promise<Res>) => unary(ctx, ANALYTICS_SERVICE, method, run)
  return {
    getOrganizationSpend: call('GetOrganizationSpend', async (r) => {
      const organization = address(r.address)
      return { series: (await reads.getOrganizationSpend(organization, series(r))).value.map(seriesPointMessage) }
    }),

    getCreatorRevenue: call('GetCreatorRevenue', async (r) => {
      const creator = address(r.address)
      return { series: (await reads.getCreatorRevenue(creator, series(r))).value.map(seriesPointMessage) }
    }),

    getProductStats: call('GetProductStats', async (r) => {
      const product = address(r.address)
      return { stats: productStatsMessage((await reads.getProductStats(product, series(r))).value) }
    }),

    getCreatorLeaderboard: call('GetCreatorLeaderboard', async (r) => ({
      entries: (await reads.creatorLeaderboard(leaderboard(r))).value.map(leaderboardEntryMessage),
    })),

    getProductLeaderboard: call('GetProductLeaderboard', async (r) => ({
      entries: (await reads.productLeaderboard(leaderboard(r))).value.map(leaderboardEntryMessage),
    })),
  }
}
