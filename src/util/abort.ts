/** Waiting on a promise no longer than a signal allows. */

/**
 * `promise`, or a rejection with `signal`'s reason as soon as it fires, whichever comes first. `onAbort` runs when the
 * signal fires during the wait (not when it had fired before), to let go of the work behind the promise or of what it
 * brings late. The listener is removed once either settles.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, onAbort?: () => void): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const aborted = () => {
      onAbort?.();
      reject(signal.reason);
    };
    signal.addEventListener("abort", aborted, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", aborted);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", aborted);
        reject(err);
      },
    );
  });
}
