// A workqueue: a key added many times runs once at a time, failures come back with backoff, shutdown drains.
import { Workqueue } from "kindwatch";

const queue = new Workqueue(); // client-go's default rate limiter: 5 ms per key, doubling; 10 qps overall
const attempts = new Map<string, number>();
let flakyFixed = () => {};
const fixed = new Promise<void>((resolve) => {
  flakyFixed = resolve;
});

async function reconcile(key: string): Promise<void> {
  const attempt = (attempts.get(key) ?? 0) + 1;
  attempts.set(key, attempt);
  if (key === "default/flaky" && attempt < 3) throw new Error(`attempt ${attempt} failed`);
  if (key === "default/flaky") flakyFixed();
}

async function worker(): Promise<void> {
  for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
    try {
      await reconcile(key);
      queue.forget(key); // its next failure starts from the first delay again
    } catch {
      queue.addRateLimited(key); // again in 5 ms, then 10 ms, 20 ms, ...
    } finally {
      queue.done(key); // a key added while it ran is handed out again now, never twice at once
    }
  }
}

const workers = [worker(), worker()];
// The second "default/web" comes while a worker has the first: it runs again once that one is done.
for (const key of ["default/web", "default/flaky", "default/web", "default/db"]) queue.add(key);
await fixed;
await queue.shutDownWithDrain({ deadlineMs: 10_000 }); // no more adds; waits for keys in flight
await Promise.all(workers); // each worker's get() resolved undefined
for (const [key, n] of attempts) console.log(`${key}: ${n} attempt${n === 1 ? "" : "s"}`);
