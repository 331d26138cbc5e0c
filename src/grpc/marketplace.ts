/** haithe.v1.MarketplaceService over the read side: each request validated with the REST API's schemas. */
import {
  addressPath, creatorListQuery, organizationListQuery, organizationPaymentsQuery, pageQuery, paymentListQuery, parseParams,
  productListQuery, txHashPath,
} from '../read/index.js'
import { given, params, unary, type ServiceContext } from './calls.js'
import type { MarketplaceServiceServer } from './gen/haithe/v1/marketplace.js'
import {
  creatorMessage, marketStatsMessage, organizationMessage, pageMessage, paymentMessage, productMessage, transactionMessage, walletMessage,
} from './messages.js'

export const MARKETPLACE_SERVICE = 'haithe.v1.MarketplaceService'

const address = (value: string) => parseParams(addressPath, { address: value }).address

export function marketplaceService(ctx: ServiceContext): MarketplaceServiceServer {
  const { reads } = ctx
  const call = <Req, Res>(method: string, run: (request: Req) => Promise<Res>) => unary(ctx, MARKETPLACE_SERVICE, method, run)
  return {
    getStats: call('GetStats', async () => ({ stats: marketStatsMessage((await reads.stats()).value) })),

    listOrganizations: call('ListOrganizations', async (r) => {
      const query = parseParams(organizationListQuery, params({ limit: r.limit, cursor: given(r.cursor), owner: given(r.owner) }))
      return pageMessage((await reads.listOrganizations(query)).value, organizationMessage)
    }),

    getOrganization: call('GetOrganization', async (r) => ({ organization: organizationMessage((await reads.getOrganization(address(r.address))).value) })),

    listOrganizationPayments: call('ListOrganizationPayments', async (r) => {
      const organization = address(r.address)
      const query = parseParams(organizationPaymentsQuery, params({ limit: r.limit, cursor: given(r.cursor), kind: given(r.kind) }))
      return pageMessage((await reads.listOrganizationPayments(organization, query)).value, paymentMessage)
    }),

    listCreators: call('ListCreators', async (r) => {
      const query = parseParams(creatorListQuery, params({ limit: r.limit, cursor: given(r.cursor), sort: given(r.sort) }))
      return pageMessage((await reads.listCreators(query)).value, creatorMessage)
    }),

    getCreator: call('GetCreator', async (r) => ({ creator: creatorMessage((await reads.getCreator(address(r.address))).value) })),

    listCreatorProducts: call('ListCreatorProducts', async (r) => {
      const creator = address(r.address)
      const query = parseParams(pageQuery, params({ limit: r.limit, cursor: given(r.cursor) }))
      return pageMessage((await reads.listCreatorProducts(creator, query)).value, productMessage)
    }),

    listProducts: call('ListProducts', async (r) => {
      const query = parseParams(productListQuery, params({
        limit: r.limit, cursor: given(r.cursor), category: given(r.category), creator: given(r.creator), q: given(r.q), sort: given(r.sort),
      }))
      return pageMessage((await reads.listProducts(query)).value, productMessage)
    }),

    getProduct: call('GetProduct', async (r) => ({ product: productMessage((await reads.getProduct(address(r.address))).value) })),

    listPayments: call('ListPayments', async (r) => {
      const query = parseParams(paymentListQuery, params({
        limit: r.limit, cursor: given(r.cursor), organization: given(r.organization), creator: given(r.creator), product: given(r.product),
        kind: given(r.kind), from_block: r.from_block, to_block: r.to_block,
      }))
      return pageMessage((await reads.listPayments(query)).value, paymentMessage)
    }),

    getTransaction: call('GetTransaction', async (r) => {
      const { hash } = parseParams(txHashPath, { hash: r.hash })
      return { transaction: transactionMessage((await reads.getTransaction(hash)).value) }
    }),

    getWallet: call('GetWallet', async (r) => ({ wallet: walletMessage((await reads.getWallet(address(r.address))).value) })),
  }
}
