/**
 * What the benchmarks read of their processes from Linux's /proc: CPU by kind of process, and a
 * process's resident memory.
 *
 * CPU seconds (user + system) used so far by this process and its descendants, by kind of process
 * (from /proc): `bench` for this process, `postgres` for the cluster and its backends, else the
 * command name (`node` for a Node child such as the API, `temporal` for the dev server, `java` for
 * the time-skipping server).
 */
import fs from 'node:fs';

export type CpuReading = Map<string, number>;

export function cpuByCommand(): CpuReading {
  const procs = new Map<number, { ppid: number; comm: string; cpu: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(entry), { ppid: Number(fields[1]), comm, cpu: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch { /* gone */ }
  }
  const out: CpuReading = new Map();
  for (const [pid, p] of procs) {
    let up = p.ppid;
    while (up > 1 && up !== process.pid) up = procs.get(up)?.ppid ?? 0;
    if (up !== process.pid && pid !== process.pid) continue;
    const name = pid === process.pid ? 'bench' : p.comm.startsWith('postgres') ? 'postgres' : p.comm;
    out.set(name, (out.get(name) ?? 0) + p.cpu);
  }
  return out;
}

/** CPU seconds by kind between two readings. */
export function cpuBetween(before: CpuReading, after: CpuReading): CpuReading {
  return new Map([...after].map(([name, cpu]) => [name, cpu - (before.get(name) ?? 0)]));
}

/** A process's peak (VmHWM) and current (VmRSS) resident set, MiB. */
export function rssOf(pid: number): { peak: number; now: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peak: kb('VmHWM:') / 1024, now: kb('VmRSS:') / 1024 };
}
