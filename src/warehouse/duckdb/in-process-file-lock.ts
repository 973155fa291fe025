/**
 * DuckDB's file lock is an OS (fcntl) lock, and those are per process: measured on 1.5,
 * one process can create two READ_WRITE instances on the same file (or a writer beside a
 * reader) and nothing stops them, though two instances writing one file corrupt it. A
 * gateway opens the warehouse once per query in one process, so hoopq keeps the same rule
 * DuckDB keeps between processes — one writer or any number of readers — inside the process.
 *
 * This is process-wide state on purpose: it mirrors the OS lock table, which is
 * process-wide too. Keys are real paths, so two spellings of one file share one entry.
 */
const holders = new Map<string, { writers: number; readers: number }>();

/** Takes the lock, or returns null when a conflicting holder exists; the caller waits and retries. */
export function tryLockInProcess(realPath: string, mode: 'read' | 'write'): (() => void) | null {
  const entry = holders.get(realPath) ?? { writers: 0, readers: 0 };
  const conflict = mode === 'write' ? entry.writers > 0 || entry.readers > 0 : entry.writers > 0;
  if (conflict) return null;
  if (mode === 'write') entry.writers += 1;
  else entry.readers += 1;
  holders.set(realPath, entry);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (mode === 'write') entry.writers -= 1;
    else entry.readers -= 1;
    if (entry.writers === 0 && entry.readers === 0) holders.delete(realPath);
  };
}
