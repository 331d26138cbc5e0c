/**
 * `npm run proto`: lints proto/ with buf and regenerates the TypeScript of the gRPC services into
 * src/grpc/gen with ts-proto (buf.gen.yaml; the directory is emptied first, so a removed .proto
 * leaves no stale module). Everything runs from node_modules, offline.
 *
 * test/proto-fresh.test.ts generates into a temporary directory with `generateProto` and compares
 * the result with the committed files.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** Where buf.gen.yaml writes, relative to the output base. */
export const generatedDir = 'src/grpc/gen'
// The platform build of buf, depended on directly: the registry here serves no other platform's
// build, which the @bufbuild/buf wrapper would require (npm ci fails on a lock that lists them).
const buf = path.join(repoRoot, 'node_modules/@bufbuild', `buf-${process.platform}-${process.arch}`, 'bin', process.platform === 'win32' ? 'buf.exe' : 'buf')

function runBuf(args: string[]): void {
  if (!existsSync(buf)) throw new Error(`buf is not installed for ${process.platform}-${process.arch}: npm install --no-save @bufbuild/buf-${process.platform}-${process.arch}@1.75.0`)
  execFileSync(buf, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] })
}

/** `buf lint` over proto/; throws (after buf printed the findings) when something is off. */
export function lintProto(): void {
  runBuf(['lint'])
}

/** Runs buf generate with buf.gen.yaml, writing under `outputBase` (default: the repository itself). */
export function generateProto(outputBase: string = repoRoot): void {
  runBuf(['generate', '--template', 'buf.gen.yaml', '--output', outputBase])
}

/** Every file under `dir`, as paths relative to it (sorted), with its contents. */
export function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>()
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name)
      if (entry.isDirectory()) walk(child)
      else files.set(child, readFileSync(path.join(dir, child), 'utf8'))
    }
  }
  walk('')
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1)))
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  lintProto()
  generateProto()
  const files = [...readTree(path.join(repoRoot, generatedDir)).keys()]
  console.log(`wrote ${files.length} modules to ${generatedDir}: ${files.join(', ')}`)
}
