/**
 * Waiting for a writable stream to take more: resolves on 'drain'; rejects if the stream errors
 * or closes first, so a reader that went away (`| head -1`, a closed socket) cannot hang the
 * writer on a drain that never comes.
 */
export function drained(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('output stream closed before the result was complete'));
    };
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}
