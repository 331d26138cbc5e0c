/**
 * Where the CPU went during a run, from /proc (Linux): the server process, this process (the
 * load generator), the PostgreSQL processes, and everything else on the machine (other people's
 * tests). In percent of one core, so on 2 cores the four add up to at most 200.
 */
import { readdirSync, readFileSync } from 'node:fs'

export interface CpuShare {
  server: number
  generator: number
  postgres: number
  other: number
}

const TICK_MS = 10 // USER_HZ is 100 on Linux

function ticksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined // gone
  }
}

function postgresTicks(): Map<number, number> {
  const ticks = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue
    } catch {
      continue
    }
    const t = ticksOf(Number(entry))
    if (t !== undefined) ticks.set(Number(entry), t)
  }
  return ticks
}

/** Busy ticks of the whole machine (all cores). */
function machineTicks(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/)
  const [user, nice, system, , , irq, softirq, steal] = values.map(Number)
  return user! + nice! + system! + irq! + softirq! + steal!
}

/** Starts measuring; the returned function ends it and gives the shares over the interval. */
export function startCpuMeter(serverPid: number | undefined): () => CpuShare {
  const started = performance.now()
  const server0 = serverPid === undefined ? 0 : (ticksOf(serverPid) ?? 0)
  const self0 = process.cpuUsage()
  const pg0 = postgresTicks()
  const machine0 = machineTicks()
  return () => {
    const wallMs = performance.now() - started
    const percent = (cpuMs: number) => (100 * cpuMs) / wallMs
    const server = serverPid === undefined ? 0 : percent(((ticksOf(serverPid) ?? server0) - server0) * TICK_MS)
    const self = process.cpuUsage(self0)
    const generator = percent((self.user + self.system) / 1000)
    let pgTicks = 0
    for (const [pid, t] of postgresTicks()) pgTicks += t - (pg0.get(pid) ?? 0) // a backend started during the run counts whole
    const postgres = percent(pgTicks * TICK_MS)
    const machine = percent((machineTicks() - machine0) * TICK_MS)
    return { server, generator, postgres, other: Math.max(0, machine - server - generator - postgres) }
  }
}
