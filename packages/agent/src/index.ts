export * from './drivers/index.js';
