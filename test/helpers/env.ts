/** What the global setup started, for the helpers (filled in by test/setup.ts). */
export const TEMPLATE_DB = 'sales_template';

export const testEnv = {
  /** A connection string to the cluster's `postgres` database (used to create per-file databases). */
  adminUrl: '',
  smtpPort: 0,
  mailWebUrl: '',
  dataDir: '',
};
