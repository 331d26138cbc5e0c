/**
 * An organization ready for inference calls on a test gateway: created and funded on chain, made
 * visible with POST /orgs, Groq's `openai/gpt-oss-20b` (model 6) enrolled, a project, and a
 * creator's promptset product enabled by the organization on chain and by the project.
 */
import { parseEther, type Address } from 'viem'
import { haitheOrchestratorAbi, haitheOrganizationAbi, type ChainWalletClient } from '../../src/chain/index.js'
import { decodeLogs, waitForSuccess } from './devchain.js'
import type { TestGateway } from './gateway.js'
import { eventually } from './eventually.js'

export const INFERENCE_MODEL = 'openai/gpt-oss-20b' // id 6, groq, 0.0001 tUSDT per call
export const INFERENCE_MODEL_PRICE = 100_000_000_000_000n

export interface InferenceOrg {
  org: { id: number; organization_uid: string; address: Address }
  project: { id: number; project_uid: string }
  product: { id: number; address: Address; price_per_call: string }
  ownerToken: string
}

export async function setUpInferenceOrg(
  gw: TestGateway, wallets: { owner: ChainWalletClient; creator: ChainWalletClient },
  options: { name: string; funds?: bigint; productPrice: bigint },
): Promise<InferenceOrg> {
  const { owner, creator } = wallets
  const ownerToken = await gw.signIn(owner)
  const hash = await owner.writeContract({ address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'createOrganization', args: [options.name] })
  const receipt = await waitForSuccess(gw.dev.publicClient, hash)
  const orgAddress = decodeLogs(haitheOrchestratorAbi, receipt, { eventName: 'OrganizationCreated' })[0]!.args.organization.toLowerCase() as Address
  await gw.fund(orgAddress, options.funds ?? parseEther('250'))
  const org = (await gw.call<InferenceOrg['org']>('POST', '/api/v1/orgs', { token: ownerToken, query: { tx_hash: hash } })).body.data
  const enrolled = await gw.call('POST', `/api/v1/orgs/${org.id}/models`, { token: ownerToken, query: { model_id: 6 } })
  if (enrolled.status >= 300) throw new Error(`enrolling model 6: ${enrolled.status} ${enrolled.text}`)
  const project = (await gw.call<InferenceOrg['project']>('POST', '/api/v1/projects', { token: ownerToken, query: { org_id: org.id, name: 'Bot' } })).body.data

  await gw.registerCreator(creator)
  const product = await addEnabledProduct(gw, { owner, creator }, { org, project, ownerToken }, {
    name: `${options.name} prompts`, uri: 'data:application/json,["Be kind"]', category: 'promptset', price: options.productPrice,
  })
  // The balance the billing reserves against is the index's.
  await eventually(
    () => gw.database.db.selectFrom('chain.organizations').select('balance').where('address', '=', org.address).executeTakeFirst(),
    (row) => row !== undefined && BigInt(row.balance) > 0n,
    'the organization balance',
  )
  return { org, project, product, ownerToken }
}

export interface ProductSpec {
  name: string
  uri: string
  category: string
  price: bigint
  /** The product's `encryptedKeyForTEE` (default "key"). */
  encryptedKey?: string
}

/**
 * A product published by `creator` (already registered), enabled on chain by the organization
 * and for the project, and seen by the gateway as one of the project's products.
 */
export async function addEnabledProduct(
  gw: TestGateway, wallets: { owner: ChainWalletClient; creator: ChainWalletClient },
  target: Pick<InferenceOrg, 'org' | 'project' | 'ownerToken'>, spec: ProductSpec,
): Promise<InferenceOrg['product']> {
  const { owner, creator } = wallets
  const { org, project, ownerToken } = target
  const creatorToken = await gw.signIn(creator)
  const added = await creator.writeContract({
    address: gw.dev.deployment.orchestrator, abi: haitheOrchestratorAbi, functionName: 'addProduct',
    args: [spec.name, spec.uri, 'iv', spec.encryptedKey ?? 'key', spec.category, spec.price],
  })
  await waitForSuccess(gw.dev.publicClient, added)
  const product = (await gw.call<{ created: InferenceOrg['product'][] }>('POST', '/api/v1/products', { token: creatorToken, query: { tx_hash: added } })).body.data.created[0]!
  await waitForSuccess(gw.dev.publicClient, await owner.writeContract({
    address: org.address, abi: haitheOrganizationAbi, functionName: 'enableProduct', args: [product.address],
  }))
  const enabled = await gw.call('POST', `/api/v1/products/${product.id}/enable`, { token: ownerToken, query: { project_id: project.id } })
  if (enabled.status >= 300) throw new Error(`enabling the product for the project: ${enabled.status} ${enabled.text}`)
  await eventually(
    () => gw.call<{ product_ids: number[] }>('GET', `/api/v1/projects/${project.id}/products`, { token: ownerToken }),
    (a) => a.body.data.product_ids.includes(product.id),
    'the enabled product',
  )
  return product
}
