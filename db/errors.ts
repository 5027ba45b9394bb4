/**
 * Business-rule failures raised by stores and services. Each carries a stable machine-readable
 * code; api/errors.ts maps the classes to HTTP statuses in one place.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 404: the record does not exist (or the caller may not know it does). */
export class NotFoundError extends DomainError {
  constructor(entity: string, id: string) {
    super(`${entity}_not_found`, `${entity.replace(/_/g, ' ')} ${id} was not found`);
  }
}

/** 409: the request is well-formed but the record's current state forbids it. */
export class ConflictError extends DomainError {}

/** 422: the request is well-formed but breaks a business rule about its content. */
export class UnprocessableError extends DomainError {}

/** 400: a field's value is not acceptable. */
export class InvalidFieldError extends DomainError {
  constructor(field: string, code: string, message: string) {
    super(code, message, field);
  }
}
