import pg from 'pg'
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/haithe_prof'); await c.connect()
const n = 100000
const txs = Array.from({ length: n }, (_, i) => '0x' + (i.toString(16)).padStart(64, '0'))
const li = Array.from({ length: n }, (_, i) => i % 50)
const blk = Array.from({ length: n }, (_, i) => Math.floor(i / 1000))
const amt = Array.from({ length: n }, (_, i) => String(10n ** 15n * BigInt(i)))
const org = Array.from({ length: n }, (_, i) => '0x' + (i % 20).toString(16).padStart(40, '0'))
async function run(label: string) {
  await c.query('truncate chain.payments')
  const t = performance.now()
  await c.query(`insert into chain.payments (chain_id, tx_hash, log_index, block_number, block_time, kind, organization, creator_id, product, amount, calls, batch_id, account)
   select 1, t.tx, t.li, t.b, to_timestamp(t.b), 'charge', t.org, 3, t.org, t.amt, 5, null, null from unnest($1::text[], $2::int[], $3::int8[], $4::numeric[], $5::text[]) as t(tx, li, b, amt, org)`, [txs, li, blk, amt, org])
  console.log(label, (performance.now() - t).toFixed(0), 'ms')
}
await run('with triggers + indexes')
await c.query('alter table chain.payments disable trigger journal')
await run('no trigger')
await c.query('drop index chain.payments_time; drop index chain.payments_product; drop index chain.payments_creator; drop index chain.payments_organization')
await run('no trigger, PK + block index')
await c.query('alter table chain.payments enable trigger journal')
await run('trigger, PK + block index')
await c.end()
