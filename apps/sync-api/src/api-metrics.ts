/** In-process counters of the sync API, rendered by GET /metrics. */
export class ApiMetrics {
  streamsOpened = 0;
  streamsClosed = 0;
  opsSent = 0;
  bytesSent = 0;
  writeCheckpoints = 0;
  authFailures = 0;
}
