/**
 * The typed ABI modules committed under src/chain/abi must be exactly what `npm run contracts`
 * writes from contracts/ today: a contract edited without regenerating them fails here.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { abiDir, compileContracts, contractNames, renderAbiModules } from '../scripts/contracts/compile.js'

describe('generated ABI modules', () => {
  let rendered: Map<string, string>

  beforeAll(() => {
    rendered = renderAbiModules(compileContracts())
  }, 180_000)

  it('renders one module per contract plus the index', () => {
    expect([...rendered.keys()].sort()).toEqual([...contractNames.map((n) => `${n}.ts`), 'index.ts'].sort())
  })

  it('committed files equal a fresh compile, byte for byte', () => {
    for (const [file, contents] of rendered) {
      const onDisk = readFileSync(path.join(abiDir, file), 'utf8')
      expect(onDisk, `src/chain/abi/${file} is stale: run \`npm run contracts\``).toBe(contents)
    }
  })

  it('no stray file sits in src/chain/abi', () => {
    expect(readdirSync(abiDir).sort()).toEqual([...rendered.keys()].sort())
  })
})
