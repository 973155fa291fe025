/**
 * A live progress line on stderr for long work (a query, audit verify, audit export): elapsed
 * time and what the caller reports (rows so far, bytes processed, lines read). Only for a
 * person: it is drawn when stderr is a terminal and --quiet is not set, and never otherwise,
 * so pipes, files, CI logs and JSON output never see it. It appears only once the work has
 * taken `delayMs` (quick commands stay silent), is redrawn at most every `intervalMs`, and is
 * erased before anything else is written to stderr and at the end.
 */

export interface ProgressLine {
  /** The latest state, e.g. "1,204 rows"; drawn when due. */
  update(detail: string): void;
  /** Erase the line (before a message on stderr, and at the end). */
  clear(): void;
  /** Erase the line and stop the timer. */
  stop(): void;
}

export interface ProgressOptions {
  /** What the work is, e.g. "query" or "audit verify". */
  label: string;
  /** Draw at all: stderr is a TTY and --quiet is not set. */
  enabled: boolean;
  delayMs?: number;
  intervalMs?: number;
  now?: () => number;
  /** Polled at each redraw instead of update(): for work that counts too often to format each time. */
  detail?: () => string;
}

const ERASE = '\r\u001b[2K';

export function createProgressLine(stderr: NodeJS.WritableStream, options: ProgressOptions): ProgressLine {
  if (!options.enabled) return { update: () => undefined, clear: () => undefined, stop: () => undefined };
  const now = options.now ?? Date.now;
  const started = now();
  const delayMs = options.delayMs ?? 500;
  let detail = '';
  let drawn = false;
  const draw = () => {
    const elapsed = now() - started;
    if (elapsed < delayMs) return;
    const shown = options.detail ? options.detail() : detail;
    stderr.write(`${ERASE}hoopq: ${options.label}: ${formatElapsed(elapsed)}${shown ? `, ${shown}` : ''}`);
    drawn = true;
  };
  const timer = setInterval(draw, options.intervalMs ?? 200);
  timer.unref();
  const clear = () => {
    if (drawn) stderr.write(ERASE);
    drawn = false;
  };
  return {
    update(d) {
      detail = d;
    },
    clear,
    stop() {
      clearInterval(timer);
      clear();
    },
  };
}

/** Whether a progress line may be drawn: stderr is a terminal and the user did not ask for quiet. */
export function progressWanted(stderr: { isTTY?: boolean }, quiet: boolean | undefined): boolean {
  return stderr.isTTY === true && !quiet;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function formatCount(n: number, unit: string, plural = `${unit}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? unit : plural}`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
