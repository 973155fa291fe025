/**
 * stdout as a pipeline's reader sees it. A reader that goes away (`hoopq audit list | head -1`,
 * a closed terminal) makes the next write fail with EPIPE: that is how pipelines end, not a
 * failure, so hoopq stops writing and exits 0 without a word, as `head` users expect. Any other
 * error of stdout (a full disk behind `> file`) is kept and reported with its exit code.
 * Invariant: once the guard is installed, no stream error can crash the process with a stack.
 */

/** Thrown by writeOut once the reader of stdout has gone away; the CLI ends with exit 0. */
export class OutputClosedError extends Error {
  constructor() {
    super('the reader of stdout went away');
  }
}

export interface OutputGuard {
  /** The reader of stdout went away (EPIPE): stop writing, exit 0, print nothing. */
  isStdoutClosed(): boolean;
  /** Another write error of stdout (ENOSPC, EIO …), to be reported as such. */
  stdoutError(): Error | undefined;
}

const PIPE_GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

export function isPipeGone(err: unknown): boolean {
  if (err instanceof OutputClosedError) return true;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && PIPE_GONE.has(code);
}

export function guardOutputStreams(stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): OutputGuard {
  let closed = false;
  let failure: Error | undefined;
  stdout.on('error', (err: Error) => {
    if (isPipeGone(err)) closed = true;
    else failure ??= err;
  });
  // nobody reads a message whose reader has gone; never crash for it
  stderr.on('error', () => undefined);
  return { isStdoutClosed: () => closed || (stdout.destroyed && failure === undefined), stdoutError: () => failure };
}

/**
 * Writes to stdout, waiting while it is over its high-water mark; throws OutputClosedError
 * once the reader has gone, so a long listing stops instead of reading the rest for nobody.
 */
export async function writeOut(text: string, stdout: NodeJS.WriteStream = process.stdout): Promise<void> {
  if (stdout.destroyed) throw new OutputClosedError();
  if (stdout.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      stdout.off('drain', done);
      stdout.off('close', gone);
      stdout.off('error', gone);
      resolve();
    };
    const gone = () => {
      stdout.off('drain', done);
      stdout.off('close', gone);
      stdout.off('error', gone);
      reject(new OutputClosedError());
    };
    stdout.on('drain', done);
    stdout.on('close', gone);
    stdout.on('error', gone);
  });
}
