import { releaseRunLock, stopRecordedServices } from './started-services';

// Stops exactly what global setup started (by the pids it recorded) and frees the work tree.
export default async function globalTeardown(): Promise<void> {
  await stopRecordedServices();
  await releaseRunLock();
}
