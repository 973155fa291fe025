/** fsync a directory, so a file created or renamed in it survives a crash. */
import fs from 'node:fs';

export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
