/** Values the integration global setup provides to test files via `inject()`. */
import type {} from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the `postgres` database on the shared test cluster. */
    pgAdminUrl: string;
  }
}

export {};
