export { type TestDialect, type TestStore, testDialects } from '../src/testing.js';
