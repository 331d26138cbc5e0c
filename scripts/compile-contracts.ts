/** `npm run contracts`: compile contracts/ and write the typed ABI modules to src/chain/abi. */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { abiDir, compileContracts, renderAbiModules } from './contracts/compile.js'

const EIP170_LIMIT = 24_576
const contracts = compileContracts()
mkdirSync(abiDir, { recursive: true })
for (const [file, contents] of renderAbiModules(contracts)) writeFileSync(path.join(abiDir, file), contents)
for (const c of contracts) {
  const warn = c.deployedSize > EIP170_LIMIT ? '  (over the EIP-170 limit!)' : ''
  console.log(`${c.name.padEnd(24)} ${String(c.deployedSize).padStart(6)} bytes deployed${warn}`)
}
console.log(`wrote ${contracts.length} ABI modules to ${path.relative(process.cwd(), abiDir)}`)
