export { API_PREFIX, type AppDeps, buildApp } from './app.js';
export { PERMISSIONS, type Permission, ROLE_PERMISSIONS, ROLES } from './auth/permissions.js';
export { generateSecret, hashSecret } from './auth/secrets.js';
export { BOOTSTRAP_ADMIN_EMAIL, bootstrapAdmin } from './bootstrap.js';
export { type Config, ConfigSchema, describeSettings, type FeedConfig, loadConfig } from './config.js';
export { type RunningServer, type StartOptions, startServer } from './server.js';
