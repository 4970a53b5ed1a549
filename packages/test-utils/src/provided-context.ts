/** Values the integration global setup provides to test files via `inject()`. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the `postgres` database on the shared test cluster. */
    pgAdminUrl: string;
  }
}

export {};
