export { parseOsRelease, parseOsReleaseFields } from './os-release.js';
