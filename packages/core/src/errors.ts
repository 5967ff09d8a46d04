/** Base of every error Patchwarden throws on purpose: a stable `code` and an HTTP-ish `status`. */
export class PatchwardenError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A version string that the ecosystem's own tool would reject. `rule` names the rule it breaks. */
export class InvalidVersionError extends PatchwardenError {
  constructor(
    readonly ecosystem: string,
    readonly input: string,
    readonly rule: string,
    detail: string,
  ) {
    super(
      'INVALID_VERSION',
      `${ecosystem} version ${JSON.stringify(input)} is invalid: ${detail} (${rule})`,
      400,
    );
  }
}

/** A truncated or corrupt inventory. `line` is 1-based; `source` names the file when known. */
export class InvalidInventoryError extends PatchwardenError {
  constructor(
    readonly format: string,
    readonly line: number,
    detail: string,
    readonly source?: string,
  ) {
    super('INVALID_INVENTORY', `${source ?? format}:${line}: ${detail}`, 400);
  }
}
