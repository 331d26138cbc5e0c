/**
 * The gRPC code committed under src/grpc/gen must be exactly what `npm run proto` writes from
 * proto/ today: a .proto edited without regenerating fails here. The protos must also pass
 * `buf lint`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generatedDir, generateProto, lintProto, readTree, repoRoot } from '../scripts/generate-proto.js'

describe('generated gRPC modules', () => {
  let scratch: string
  let fresh: Map<string, string>

  beforeAll(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'haithe-proto-'))
    generateProto(scratch)
    fresh = readTree(path.join(scratch, generatedDir))
  }, 120_000)
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true })
  })

  it('the protos pass buf lint', () => {
    expect(() => lintProto()).not.toThrow()
  })

  it('generates one module per .proto file', () => {
    expect([...fresh.keys()]).toEqual(['haithe/v1/analytics.ts', 'haithe/v1/common.ts', 'haithe/v1/indexer.ts', 'haithe/v1/marketplace.ts'])
  })

  it('committed files equal a fresh generation, byte for byte, with no stray file', () => {
    const committed = readTree(path.join(repoRoot, generatedDir))
    expect([...committed.keys()], `${generatedDir} has other files than a fresh generation: run \`npm run proto\``).toEqual([...fresh.keys()])
    for (const [file, contents] of fresh) {
      expect(committed.get(file), `${generatedDir}/${file} is stale: run \`npm run proto\``).toBe(contents)
    }
  })
})
