import { isObject } from '../common.js';

/**
 * The Alpine secdb document (secdb.alpinelinux.org/vX.Y/<repo>.json, and the YAML of the old
 * alpine-secdb git mirror): `{distroversion, reponame, archs, urlprefix, apkurl,
 * packages: [{pkg: {name, secfixes: {<fixed version>: [<id line>, …]}}}]}`. Only `parse.ts` uses it.
 */

export interface SecdbPackage {
  name: string;
  /** In document order: fixed version (`"0"` = never affected) and its id lines as written. */
  secfixes: Array<[fixed: string, lines: string[]]>;
}

export interface SecdbDocument {
  distroversion: string;
  packages: Array<{ index: number; pkg: SecdbPackage | null; problem: string | null }>;
}

/** The YAML failsafe schema reads `~`, `null` and an empty value as these strings. */
const EMPTY_SCALARS: ReadonlySet<string> = new Set(['', '~', 'null', 'Null', 'NULL']);

function isEmpty(value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    (typeof value === 'string' && EMPTY_SCALARS.has(value.trim())) ||
    (isObject(value) && Object.keys(value).length === 0) ||
    (Array.isArray(value) && value.length === 0)
  );
}

/**
 * Checks the document; a problem with the document as a whole is returned as a string, a problem
 * with one package is kept on that package so that the others can be used.
 */
export function readSecdb(document: unknown): SecdbDocument | string {
  if (!isObject(document)) return 'the document must be a mapping';
  const { distroversion, packages } = document;
  if (typeof distroversion !== 'string') return 'distroversion must be a string';
  const list = isEmpty(packages) ? [] : packages;
  if (!Array.isArray(list)) return 'packages must be a list';
  return {
    distroversion,
    packages: list.map((item, index) => {
      const pkg = isObject(item) ? item.pkg : undefined;
      if (!isObject(pkg) || typeof pkg.name !== 'string' || pkg.name.trim() === '') {
        return { index, pkg: null, problem: 'must be {pkg: {name, secfixes}} with a non-empty name' };
      }
      if (isEmpty(pkg.secfixes)) return { index, pkg: { name: pkg.name, secfixes: [] }, problem: null };
      if (!isObject(pkg.secfixes)) return { index, pkg: null, problem: 'pkg.secfixes must be a mapping' };
      const secfixes: SecdbPackage['secfixes'] = [];
      for (const [fixed, ids] of Object.entries(pkg.secfixes)) {
        if (isEmpty(ids)) secfixes.push([fixed, []]);
        else if (typeof ids === 'string') secfixes.push([fixed, [ids]]);
        else if (Array.isArray(ids) && ids.every((id) => typeof id === 'string' || isEmpty(id))) {
          secfixes.push([fixed, ids.filter((id): id is string => typeof id === 'string' && !isEmpty(id))]);
        } else {
          return { index, pkg: null, problem: `pkg.secfixes["${fixed}"] must be a list of ids` };
        }
      }
      return { index, pkg: { name: pkg.name, secfixes }, problem: null };
    }),
  };
}
