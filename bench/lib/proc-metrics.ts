import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Cumulative counters of one process, sendable over IPC; two of them give a window's load. */
export interface ProcSample {
  atMs: number;
  /** CPU time of the process (user + system, ms). */
  cpuMs: number;
  /** Event loop time busy / idle since the process started (ms). */
  loopActiveMs: number;
  loopIdleMs: number;
}

export function procSample(): ProcSample {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  return { atMs: Date.now(), cpuMs: (cpu.user + cpu.system) / 1_000, loopActiveMs: elu.active, loopIdleMs: elu.idle };
}

/** Load of a process between two samples: CPU in % of one core, event-loop utilisation in %. */
export function procLoad(a: ProcSample, b: ProcSample): { cpu_pct_of_one_core: number; event_loop_utilization_pct: number } {
  const wall = Math.max(1, b.atMs - a.atMs);
  const active = b.loopActiveMs - a.loopActiveMs;
  const idle = b.loopIdleMs - a.loopIdleMs;
  return {
    cpu_pct_of_one_core: Math.round(((b.cpuMs - a.cpuMs) / wall) * 100),
    event_loop_utilization_pct: Math.round((active / Math.max(1, active + idle)) * 100),
  };
}

/** Machine-wide CPU counters (ms, summed over cores). */
export interface MachineSample {
  busyMs: number;
  totalMs: number;
}

export function machineSample(): MachineSample {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busyMs: busy, totalMs: total };
}

/** Machine CPU busy between two samples, in % of all cores. */
export function machineBusyPct(a: MachineSample, b: MachineSample): number {
  return Math.round(((b.busyMs - a.busyMs) / Math.max(1, b.totalMs - a.totalMs)) * 100);
}

/** CPU time (ms) of another process from /proc (Linux), or undefined when it cannot be read. */
export function pidCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux we run on. */
const CLOCK_TICKS_PER_S = 100;

/**
 * The local services of scripts/services.sh, when they are the ones in use (their pid files exist):
 * in $RUNWARDEN_SERVICES_DIR as for services.sh (e.g. another worktree's), else `<root>/.services`.
 */
export function servicePids(root: string): Record<'kafka' | 'clickhouse', number | undefined> {
  const dir = process.env.RUNWARDEN_SERVICES_DIR ?? `${root}/.services`;
  const read = (name: string) => {
    try {
      const pid = Number(readFileSync(`${dir}/${name}/pid`, 'utf8').trim());
      return Number.isInteger(pid) && pidCpuMs(pid) !== undefined ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  return { kafka: read('kafka'), clickhouse: read('clickhouse') };
}
