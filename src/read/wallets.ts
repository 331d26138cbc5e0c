/** What a wallet shows for an address: its indexed tUSDT balance, organizations, creator identity, recent transfers. */
import type { ReadContext } from './context.js'
import { toTransferView } from './payments.js'
import { toCreatorView, toOrganizationView, type WalletView } from './views.js'


const RECENT_TRANSFERS = 20
const MAX_ORGANIZATIONS = 100

export async function getWallet(ctx: ReadContext, address: string): Promise<WalletView> {
  const transfers = (side: 'from_address' | 'to_address') =>
    ctx.db.selectFrom('chain.token_transfers').selectAll().where('chain_id', '=', ctx.chainId).where(side, '=', address)
      .orderBy('block_number', 'desc').orderBy('log_index', 'desc').limit(RECENT_TRANSFERS).execute()
  const [balance, organizations, creator, sent, received] = await Promise.all([
    ctx.db.selectFrom('chain.token_balances').select('balance').where('chain_id', '=', ctx.chainId).where('address', '=', address).executeTakeFirst(),
    ctx.db.selectFrom('chain.organizations').selectAll().where('chain_id', '=', ctx.chainId).where('owner', '=', address).orderBy('index').limit(MAX_ORGANIZATIONS).execute(),
    ctx.db.selectFrom('chain.creators').selectAll().where('chain_id', '=', ctx.chainId).where('address', '=', address).executeTakeFirst(),
    transfers('from_address'),
    transfers('to_address'),
  ])
  // A transfer to oneself is in both lists once.
  const merged = new Map([...sent, ...received].map((t) => [`${t.tx_hash}:${t.log_index}`, t]))
  const recent = [...merged.values()]
    .sort((a, b) => Number(b.block_number) - Number(a.block_number) || b.log_index - a.log_index)
    .slice(0, RECENT_TRANSFERS)
  return {
    address,
    balance: balance?.balance ?? '0',
    organizations: organizations.map(toOrganizationView),
    creator: creator ? toCreatorView(creator) : null,
    recent_transfers: recent.map(toTransferView),
  }
}
